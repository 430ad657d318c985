"""The CLI's settings: forge's options read from `AUTOGPT_*` environment variables and `.env`.

Every field of `forge.config.Settings` can be set as `AUTOGPT_<FIELD>` (e.g.
`AUTOGPT_MODEL=openai/gpt-4o-mini`); CLI options override them.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from forge.config import Settings


class CliSettings(BaseSettings, Settings):
    model_config = SettingsConfigDict(
        env_prefix="AUTOGPT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )
