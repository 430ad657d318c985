"""Run the Agent Protocol app with uvicorn on a socket bound here, so a busy port is one clear error."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from forge.config import Settings
from forge.errors import AutoGPTError, ConfigError
from forge.protocol.config import ServerConfig
from forge.protocol.session import AgentBuilder


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or ConfigError naming the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"cannot resolve --host {host!r} ({e.strerror}); use an address such as 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use; choose another with --port") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --host/--port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: Settings,
    config: ServerConfig,
    builder: AgentBuilder | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. `on_ready` gets the base URL once the socket is bound."""
    import uvicorn

    from forge.protocol.app import create_app

    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    app = create_app(settings, config, builder)
    shown = f"[{host}]" if ":" in host else host
    if on_ready is not None:
        on_ready(f"http://{shown}:{port}")
    uv = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=10, lifespan="on")
    server = uvicorn.Server(uv)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise AutoGPTError("the server did not start; the lines above say why")
