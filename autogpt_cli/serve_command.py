"""`autogpt serve`: build the server's options from Settings and run forge's Agent Protocol server."""

from __future__ import annotations

import sys

from forge.config import Settings
from forge.errors import ConfigError


def serve_command(settings: Settings, *, host: str, port: int, agent: str | None) -> None:
    from autogpt_cli.run_command import check_workspace
    from forge.protocol.config import ServerConfig
    from forge.protocol.server import serve
    from forge.protocol.session import load_agent_builder

    if settings.model.startswith("scripted/"):  # a missing script file fails now, not at the first step
        from forge.models.scripted import ScriptedModel

        ScriptedModel.from_file(settings.model.removeprefix("scripted/"))
    check_workspace(settings)
    builder = load_agent_builder(agent) if agent else None
    key = settings.api_key.get_secret_value().strip() if settings.api_key else ""
    if not key and host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host} without AUTOGPT_API_KEY: anyone who can reach it can run the agent",
              file=sys.stderr)
    try:
        config = ServerConfig(
            host=host, port=port, api_key=key or None, step_timeout=settings.step_timeout,
            max_upload_bytes=int(settings.max_upload_mb * 1024 * 1024),
        )
    except ValueError as e:
        raise ConfigError(f"invalid server option: {e}; fix --host/--port") from None

    def ready(url: str) -> None:
        auth = " (Bearer key required)" if key else ""
        print(f"Agent Protocol server on {url}/ap/v1{auth}; docs at {url}/docs; Ctrl-C stops it", flush=True)

    serve(settings, config, builder, on_ready=ready)
