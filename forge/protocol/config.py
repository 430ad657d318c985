"""Options of the Agent Protocol server (the CLI fills them from Settings: env, .env, options)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

DEFAULT_PORT = 8000


class ServerConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)  # 0: any free port (printed at start)
    # When set, every /ap/v1 request needs `Authorization: Bearer <key>`.
    api_key: SecretStr | None = None
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    step_timeout: float = Field(default=600.0, gt=0)
    max_parallel_steps: int = Field(default=32, ge=1)  # steps (of different tasks) running at once
    # Idle task sessions kept open (each holds its run log); older ones are closed and reopened on demand.
    max_open_sessions: int = Field(default=256, ge=1)
