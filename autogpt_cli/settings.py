"""The CLI's settings: forge's options read from `AUTOGPT_*` environment variables, `./.env` and the
user's config file.

Every field of `forge.config.Settings` can be set as `AUTOGPT_<FIELD>` (e.g.
`AUTOGPT_MODEL=openai/gpt-4o-mini`). Precedence, strongest first: CLI option > environment variable >
`./.env` > the user file `$XDG_CONFIG_HOME/autogpt/.env` (default `~/.config/autogpt/.env`) > default.
The user file has the `.env` format, so provider keys (`OPENAI_API_KEY=...`) can live there too.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from autogpt_cli.user_config import LOCAL_ENV_FILE, PREFIX, env_files
from forge.config import Settings


class CliSettings(BaseSettings, Settings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=LOCAL_ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )


def build_settings(**overrides: Any) -> CliSettings:
    """Settings from the options given, the environment, ./.env and the user file, in that order."""
    # pydantic-settings lets a later file override an earlier one: weakest first.
    files = tuple(reversed(env_files()))
    return CliSettings(_env_file=files, **overrides)  # type: ignore[call-arg]
