"""The process environment: one explicit setup call for applications, and a lazy litellm import.

Library code never writes `os.environ`. An application (the CLI) calls `setup_environment()` once:
it makes litellm, tiktoken and the HF hub work offline and quiet, and copies `.env` keys into the
environment where providers look for them. `import litellm` costs seconds and ~170 MB, so nothing
imports it at module level: `import_litellm()` does it on first use.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

_READONLY_NOTICE = r".*using the `ReadOnly` qualifier"
_lock = threading.Lock()  # environment edits
_import_lock = threading.Lock()
_litellm: ModuleType | None = None
_defaulted: set[str] = set()  # variables setup_environment() set itself (the user had not)


def litellm_tokenizers_dir() -> Path | None:
    """litellm's wheel ships tiktoken's encodings; find them without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def offline_env() -> dict[str, str]:
    """Variables litellm, tiktoken and the HF hub read to stay offline and quiet."""
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the bundled cost map instead of fetching it on import
        "HF_HUB_OFFLINE": "1",  # HF-style model names otherwise trigger ~24 s of hub retries offline
        "LITELLM_LOG": "ERROR",  # litellm's handler defaults to DEBUG; errors reach users as our exceptions
        "LITELLM_TELEMETRY": "False",
    }
    folder = litellm_tokenizers_dir()
    if folder is not None:
        env["TIKTOKEN_CACHE_DIR"] = str(folder)
    return env


def setup_environment(dotenv: str | Path | Sequence[str | Path] | None = ".env") -> None:
    """For applications, once at start: offline-safe defaults (never overriding a value already
    set), a warning filter for a notice of litellm's, and the keys of `.env` files (pydantic-settings
    reads them only into Settings fields, but providers look keys up in os.environ). Several files are
    given strongest first (e.g. `./.env`, then a user-level file); a key already set is never replaced,
    so the environment beats every file. Idempotent."""
    for key, value in offline_env().items():
        if key not in os.environ:
            os.environ[key] = value
            _defaulted.add(key)
    # litellm's typed dicts trip a pydantic notice (at import and on some calls) that means nothing to users.
    warnings.filterwarnings("ignore", message=_READONLY_NOTICE, category=UserWarning)
    files = [dotenv] if isinstance(dotenv, str | Path) else list(dotenv or [])
    for file in files:
        if Path(file).is_file():
            from dotenv import load_dotenv

            load_dotenv(Path(file), override=False)


def allow_hub_downloads() -> None:
    """For an application command that downloads from the HF Hub on purpose (`autogpt models pull`),
    before huggingface_hub is imported: drop the HF_HUB_OFFLINE default set above. A value the user
    set is kept (the pull then says to unset it)."""
    if "HF_HUB_OFFLINE" in _defaulted:
        os.environ.pop("HF_HUB_OFFLINE", None)
        _defaulted.discard("HF_HUB_OFFLINE")


@contextmanager
def _scoped_env(values: dict[str, str]) -> Iterator[None]:
    """`values` (where unset) for the duration of the block, then the environment exactly as it was:
    litellm reads its settings at import time, and writes TIKTOKEN_CACHE_DIR there itself."""
    before = dict(os.environ)
    for key, value in values.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        for key, value in before.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


@contextmanager
def offline_scope() -> Iterator[None]:
    """Offline defaults around a call that reads them once (an import, loading a tokenizer)."""
    with _lock, _scoped_env(offline_env()):
        yield


def import_litellm() -> ModuleType:
    """Import litellm once, offline-safe and quiet, leaving the host's environment as it found it."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _import_lock:
        if _litellm is None:
            with offline_scope(), warnings.catch_warnings():
                # litellm's streaming types trip a pydantic notice at import that means nothing to users.
                warnings.filterwarnings("ignore", message=_READONLY_NOTICE, category=UserWarning)
                import litellm

            litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners
            litellm.telemetry = False
            _litellm = litellm
    return _litellm
