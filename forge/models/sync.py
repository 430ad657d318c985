"""Bridges between sync and async code: run a coroutine from sync code, iterate a blocking
iterator from async code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` and return its result.

    Each thread keeps one event loop across calls, so asyncio objects a backend caches (HTTP
    clients, locks) stay bound to a live loop. Called from inside a running loop, the coroutine
    runs to completion on a helper thread instead of deadlocking this one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = getattr(_local, "loop", None)
        if loop is None or loop.is_closed():
            loop = _local.loop = asyncio.new_event_loop()
        return loop.run_until_complete(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


_DONE = object()


async def iterate_in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Consume a blocking iterator in a worker thread, handing each item to the event loop as
    it arrives (so streamed chunks reach downstream nodes without waiting for the end)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def pump() -> None:
        try:
            for item in make():
                loop.call_soon_threadsafe(queue.put_nowait, (item, None))
        except BaseException as e:  # handed to the loop's side and re-raised there
            loop.call_soon_threadsafe(queue.put_nowait, (_DONE, e))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, (_DONE, None))

    worker = asyncio.ensure_future(asyncio.to_thread(pump))
    try:
        while True:
            item, error = await queue.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        await worker
