"""The Dask connection shared by the executors that run work on a cluster (workflow nodes, benchmark
attempts): connect on first use or wrap a given client, submit pickled payloads, free the worker slot on
cancel, close only what was opened here (docs/architecture.md, section 5: Dask for many machines)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from forge.errors import ConfigError


class DaskConnection:
    """`address` of a running scheduler (tcp://HOST:PORT), or an existing asynchronous `client`."""

    def __init__(self, address: str | None = None, *, client: Any = None, connect_timeout: float = 10.0,
                 what: str = "the dask executor"):
        if address is None and client is None:
            raise ConfigError(f"{what} needs a scheduler; pass --scheduler tcp://HOST:PORT")
        self.address = address
        self.client = client
        self._own_client = client is None
        self.connect_timeout = connect_timeout

    async def start(self) -> None:
        if self.client is not None:
            return
        from distributed import Client

        try:
            self.client = await Client(self.address, asynchronous=True, timeout=self.connect_timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {self.address} ({e}); start one with "
                "`dask scheduler` and `dask worker ADDRESS`, or fix --scheduler"
            ) from None

    async def submit(self, func: Callable[[bytes], Any], payload: bytes, key: str) -> Any:
        """FUNC(PAYLOAD) on a worker; cancelling the caller (a timeout, Ctrl-C) cancels it there too."""
        await self.start()
        assert self.client is not None
        future = self.client.submit(func, payload, pure=False, key=key)
        try:
            return await future
        except asyncio.CancelledError:
            await future.cancel()  # free the worker slot
            raise

    async def close(self) -> None:
        if self.client is not None and self._own_client:
            await self.client.close()
            self.client = None
