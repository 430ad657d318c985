"""Keep API keys out of prompts, logs, memory, child processes, run records and CLI output.

A `Redactor` replaces every *known* secret value (environment variables whose names look like
keys, tokens or passwords; stored credentials) and text shaped like a well-known provider token
(`sk-...`, `ghp_...`, `AKIA...`, ...) by `[REDACTED]`. Build one per run or command with
`Redactor.from_environment()` or `workspace_redactor(workspace)` (which adds the credentials
store) and pass text through it wherever the project persists or prints what it did not write.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Env var names that hold secrets: *_API_KEY, *_TOKEN, *_SECRET, *PASSWORD*, ... (case-insensitive).
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
# Variables a child process may inherit. Everything else, secrets included, is dropped.
SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TERM", "TZ")
REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words
# Formats distinctive enough that ordinary text never matches them: a key pasted into a goal or
# read from a file is caught even when it is not one of ours.
TOKEN_PATTERN = re.compile(
    r"\b(?:"
    r"sk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r")"
)
# Literal starts of those formats: the pattern runs only on text containing one (it is ~10x slower
# than these substring checks, and most text has none).
_TOKEN_PREFIXES = ("sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "AKIA", "AIza", "hf_")


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


class Redactor:
    """Replaces known secret values and token-shaped text by `[REDACTED]`."""

    def __init__(self, values: Iterable[str] = (), *, patterns: bool = True):
        found = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LEN}
        # Also each value as it appears inside JSON text (quotes, backslashes, controls escaped),
        # so `data()` catches it after serialisation too.
        found |= {json.dumps(v, ensure_ascii=False)[1:-1] for v in found}
        self.values = sorted(found, key=len, reverse=True)
        self.patterns = patterns

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> Redactor:
        return cls([*secret_values(environ), *extra])

    def text(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, REDACTED)
        if self.patterns and any(prefix in text for prefix in _TOKEN_PREFIXES):
            text = TOKEN_PATTERN.sub(REDACTED, text)
        return text

    __call__ = text

    def data(self, obj: Any) -> Any:
        """A JSON-able structure with every secret removed from its strings (keys included)."""
        serialised = json.dumps(obj, ensure_ascii=False, default=str)
        cleaned = self.text(serialised)
        return obj if cleaned == serialised else json.loads(cleaned)


def workspace_redactor(workspace: Path, environ: Mapping[str, str] | None = None) -> Redactor:
    """Environment secrets plus every value of the workspace's credentials store.

    Raises ConfigError when the credentials file exists but cannot be read: running on without
    knowing its values would write them unredacted."""
    from forge.blocks.credentials import CredentialStore

    store = CredentialStore.for_workspace(workspace, environ)
    return Redactor.from_environment(environ, store.secret_values())


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every secret value found in the environment (and token-shaped text) by `[REDACTED]`."""
    return Redactor.from_environment(environ).text(text)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for child processes: no keys, no tokens, nothing inherited blindly."""
    env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    if extra:
        env.update({k: v for k, v in extra.items() if not SECRET_NAME.search(k)})
    return env


class RedactingFilter:
    """logging filter that scrubs secret values from every record before any handler sees it."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self._redactor = redactor or Redactor.from_environment()

    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        record.msg, record.args = self._redactor.text(record.getMessage()), None
        return True


def setup_debug_logging(redactor: Redactor | None = None) -> None:
    """Verbose logs on stderr, with secrets redacted at the handler. Called by the CLI only."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redactor))  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler], force=True)
