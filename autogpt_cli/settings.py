"""The CLI's settings: forge's options read from `AUTOGPT_*` environment variables, `./.env` and the
user's config file.

Every field of `forge.config.Settings` can be set as `AUTOGPT_<FIELD>` (e.g.
`AUTOGPT_MODEL=openai/gpt-4o-mini`). Precedence, strongest first: CLI option > environment variable >
`./.env` > the user file `$XDG_CONFIG_HOME/autogpt/.env` (default `~/.config/autogpt/.env`) > default.
The user file has the `.env` format, so provider keys (`OPENAI_API_KEY=...`) can live there too.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from forge.config import Settings

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


class CliSettings(BaseSettings, Settings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=LOCAL_ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )


def build_settings(**overrides: Any) -> CliSettings:
    """Settings from the options given, the environment, ./.env and the user file, in that order."""
    # pydantic-settings lets a later file override an earlier one: weakest first.
    files = tuple(reversed(env_files()))
    return CliSettings(_env_file=files, **overrides)  # type: ignore[call-arg]


def known_keys() -> set[str]:
    return {PREFIX + name.upper() for name in Settings.model_fields}


def unknown_keys(sources: Iterable[tuple[str, Iterable[str]]]) -> list[tuple[str, str, str | None]]:
    """(key, where, closest known key) for each unknown AUTOGPT_* name, each key once."""
    known = sorted(known_keys())
    seen: set[str] = set()
    found = []
    for where, keys in sources:
        for key in keys:
            upper = key.upper()
            if not upper.startswith(PREFIX) or upper in known or upper.startswith(OTHER_PREFIXES) or upper in seen:
                continue
            seen.add(upper)
            close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
            found.append((key, where, close[0] if close else None))
    return found


def warn_unknown_keys(environ: Mapping[str, str]) -> list[str]:
    """One stderr line per unknown AUTOGPT_* key of the environment, ./.env or the user file."""
    import sys

    from dotenv import dotenv_values

    sources: list[tuple[str, Iterable[str]]] = [("environment", list(environ))]
    for path in env_files(environ):
        if path.is_file():
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
