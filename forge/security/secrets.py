"""Keep API keys out of prompts, logs, child processes and run records."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# Env var names that hold secrets: *_API_KEY, *_TOKEN, *_SECRET, *PASSWORD*, ... (case-insensitive).
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
# Variables a child process may inherit. Everything else, secrets included, is dropped.
SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TERM", "TZ")
REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every secret value found in the environment by `[REDACTED]`."""
    for value in secret_values(environ):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


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

    def __init__(self) -> None:
        self._values = secret_values()

    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        message = record.getMessage()
        for value in self._values:
            message = message.replace(value, REDACTED)
        record.msg, record.args = message, None
        return True


def setup_debug_logging() -> None:
    """Verbose logs on stderr, with secrets redacted at the handler."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler], force=True)
