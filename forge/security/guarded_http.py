"""httpx clients whose every connection passes the SSRF guard (`forge.security.netguard`).

The check sits in an httpcore network backend, the layer that opens TCP connections: each
connection, and so each redirect hop, resolves the host once, checks every address, and connects
to a checked address by number. TLS still verifies the certificate against the host name (httpcore
passes the URL's host as SNI, not the address we connected to). Guarded clients ignore the
environment's proxies (HTTP_PROXY, ...): through a proxy the proxy would resolve the name again,
after our check, so a proxy would undo the protection.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

from forge.errors import PolicyViolationError
from forge.security.netguard import Allowlist, NetGuard

SOCKET_OPTIONS = Iterable[Any]


def _resolve(guard: NetGuard, host: str, port: int) -> list[str]:
    try:
        return guard.resolve(host, port)
    except PolicyViolationError:
        raise
    except OSError as e:  # socket.gaierror and friends: the name does not resolve
        raise httpcore.ConnectError(f"could not resolve {host}: {e.strerror or e}") from None


class GuardedBackend(httpcore.NetworkBackend):
    """Wraps the default sync backend: connects only to checked addresses."""

    def __init__(self, guard: NetGuard, inner: httpcore.NetworkBackend | None = None):
        self.guard = guard
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SOCKET_OPTIONS | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in _resolve(self.guard, host, port):
            try:
                return self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as e:  # try the next checked address, as a resolver-based connect would
                error = e
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SOCKET_OPTIONS | None = None
    ) -> httpcore.NetworkStream:
        raise PolicyViolationError(f"web access to the unix socket {path} refused")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """Wraps httpcore's default async backend: connects only to checked addresses."""

    def __init__(self, guard: NetGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SOCKET_OPTIONS | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # getaddrinfo blocks: run it in a worker thread, bounded by the connect timeout.
        try:
            with anyio.fail_after(timeout):
                addresses = await anyio.to_thread.run_sync(
                    _resolve, self.guard, host, port, abandon_on_cancel=True
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout}s") from None
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as e:
                error = e
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SOCKET_OPTIONS | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise PolicyViolationError(f"web access to the unix socket {path} refused")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for all guarded clients: loading the CA bundle takes ~0.2 s.
    trust_env here only reads SSL_CERT_FILE / SSL_CERT_DIR (custom CAs), never proxies."""
    return httpx.create_ssl_context(trust_env=True)


def _pool_args(limits: httpx.Limits | None) -> dict[str, Any]:
    limits = limits or httpx.Limits()
    return {
        "ssl_context": _ssl_context(),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, guard: NetGuard, limits: httpx.Limits | None = None):
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx has no public way to choose the network backend: replace the pool it built.
        self._pool = httpcore.ConnectionPool(**_pool_args(limits), network_backend=GuardedBackend(guard))


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, guard: NetGuard, limits: httpx.Limits | None = None):
        super().__init__(verify=_ssl_context(), trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(**_pool_args(limits), network_backend=AsyncGuardedBackend(guard))


def _guard(allowlist: Allowlist | Iterable[str]) -> NetGuard:
    return NetGuard(allowlist if isinstance(allowlist, Allowlist) else Allowlist.parse(allowlist))


def guarded_client(allowlist: Allowlist | Iterable[str] = (), **kwargs: Any) -> httpx.Client:
    """An httpx.Client that reaches only public addresses and what `allowlist` names.

    kwargs go to httpx.Client (timeout, headers, follow_redirects, ...), except transport/proxy."""
    return httpx.Client(transport=GuardedTransport(_guard(allowlist)), trust_env=False, **kwargs)


def guarded_async_client(allowlist: Allowlist | Iterable[str] = (), **kwargs: Any) -> httpx.AsyncClient:
    """The async twin of `guarded_client`."""
    return httpx.AsyncClient(transport=AsyncGuardedTransport(_guard(allowlist)), trust_env=False, **kwargs)
