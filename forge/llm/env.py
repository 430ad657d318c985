"""Process environment for litellm: offline-safe, quiet, and imported lazily.

`import litellm` costs seconds and ~170 MB, so nothing in forge imports it at module level: call
`import_litellm()` where it is needed. Before the import, `prepare_offline_env()` stops litellm
and tiktoken from reaching the network at import time (cost map, tokenizer downloads, HF hub).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import warnings
from pathlib import Path
from types import ModuleType

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
_lock = threading.Lock()
_dotenv_loaded: set[Path] = set()
_litellm: ModuleType | None = None


def _litellm_tokenizers_dir() -> Path | None:
    """litellm's wheel ships tiktoken's encodings; find them without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def prepare_offline_env() -> None:
    """Set the environment litellm and tiktoken read at import time. Idempotent; never overrides
    a value the user set."""
    # The bundled cost map instead of fetching it from GitHub on import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        folder = _litellm_tokenizers_dir()
        if folder is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    # HF-style model names otherwise trigger ~24 s of hub retries when offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # litellm's handler defaults to DEBUG; errors reach the user through our own exceptions.
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")


def load_dotenv_keys(path: str | Path = ".env") -> None:
    """Copy a `.env` file's variables (API keys) into os.environ, without overriding what is
    already set: pydantic-settings reads `.env` only into Settings fields, but litellm looks keys
    up in os.environ."""
    p = Path(path).resolve()
    if p in _dotenv_loaded:
        return
    _dotenv_loaded.add(p)
    if p.is_file():
        from dotenv import load_dotenv

        load_dotenv(p, override=False)


def import_litellm() -> ModuleType:
    """Import litellm once, prepared for offline use, quiet, and with the embedded provider
    registered (registration does not load the model)."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is None:
            prepare_offline_env()
            import litellm

            litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners
            litellm.telemetry = False
            # litellm's streaming types trip a pydantic notice that means nothing to our users.
            warnings.filterwarnings(
                "ignore", message=r".*using the `ReadOnly` qualifier", category=UserWarning
            )
            if os.environ.get("LITELLM_LOG", "ERROR").upper() == "ERROR":
                for name in _LITELLM_LOGGERS:
                    logging.getLogger(name).setLevel(logging.ERROR)
            from forge.llm.local import register_local_provider

            register_local_provider(litellm)
            _litellm = litellm
    return _litellm
