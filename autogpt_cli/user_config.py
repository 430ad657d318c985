"""Where settings files are, and the check for unknown `AUTOGPT_*` keys.

Kept apart from settings.py (pydantic-settings, forge.config): `main()` runs this before every
command, `--help` included, so it imports neither unless an `AUTOGPT_*` key is there to check.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

PREFIX = "AUTOGPT_"
LOCAL_ENV_FILE = Path(".env")
# AUTOGPT_* names read outside Settings: credentials for workflow blocks (forge/blocks/credentials.py).
OTHER_PREFIXES = ("AUTOGPT_CREDENTIALS_",)


def user_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "autogpt"


def user_env_file(environ: Mapping[str, str] = os.environ) -> Path:
    return user_config_dir(environ) / ".env"


def env_files(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The files settings are read from, strongest first."""
    return [LOCAL_ENV_FILE, user_env_file(environ)]


def known_keys() -> set[str]:
    from forge.config import Settings

    return {PREFIX + name.upper() for name in Settings.model_fields}


def unknown_keys(sources: Iterable[tuple[str, Iterable[str]]]) -> list[tuple[str, str, str | None]]:
    """(key, where, closest known key) for each unknown AUTOGPT_* name, each key once."""
    found: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    known: list[str] | None = None
    for where, keys in sources:
        for key in keys:
            upper = key.upper()
            if not upper.startswith(PREFIX) or upper.startswith(OTHER_PREFIXES) or upper in seen:
                continue
            known = known if known is not None else sorted(known_keys())
            if upper in known:
                continue
            seen.add(upper)
            close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
            found.append((key, where, close[0] if close else None))
    return found


def warn_unknown_keys(environ: Mapping[str, str]) -> list[str]:
    """One stderr line per unknown AUTOGPT_* key of the environment, ./.env or the user file."""
    import sys

    sources: list[tuple[str, Iterable[str]]] = [("environment", list(environ))]
    for path in env_files(environ):
        if path.is_file():
            from dotenv import dotenv_values

            try:
                sources.append((str(path), list(dotenv_values(path))))
            except (OSError, UnicodeDecodeError):
                continue  # unreadable: reading settings reports it
    lines = []
    for key, where, close in unknown_keys(sources):
        hint = f"did you mean {close}?" if close else "see `autogpt run --help` and forge/config.py for settings"
        lines.append(f"warning: unknown setting {key} (in {where}) is ignored; {hint}")
    for line in lines:
        print(line, file=sys.stderr)
    return lines
