"""Where a node's block runs. The engine schedules; an Executor only runs one block to completion.

- InProcessExecutor (default): the block's async generator runs in the engine's event loop, so
  emissions stream live (each becomes a `node_output` event as it happens). A block that blocks
  the loop synchronously also blocks its own timeout: blocks must await, or use a thread.
- DaskExecutor: submits a function to a `distributed` cluster that rebuilds the block and its
  context on the worker, runs it with asyncio.run in the worker thread, and returns every
  emission at once. Streaming is therefore not live across Dask: the engine records the emissions
  when the task returns. Blocks from `--blocks-dir` are shipped by value with cloudpickle, so
  workers do not need the user's folder. `distributed` is imported only when this is chosen.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from forge.blocks.base import Block, BlockContext
from forge.cluster import DaskConnection
from forge.errors import ConfigError
from forge.security.permissions import private_dir

Emit = Callable[[str, Any], None]
USER_BLOCK_MODULE_PREFIX = "autogpt_user_blocks."


class Executor:
    """Runs one block with a validated input; calls `emit(output, value)` for every emission."""

    name = "executor"
    streams_live = True

    async def start(self) -> None:
        """Idempotent; the engine calls it before the first node."""

    async def run(self, block: type[Block], input: BaseModel, ctx: BlockContext, emit: Emit) -> None:  # noqa: A002
        raise NotImplementedError

    async def close(self) -> None:
        """Release what start() acquired; called by whoever created the executor."""


class InProcessExecutor(Executor):
    name = "inprocess"

    async def run(self, block: type[Block], input: BaseModel, ctx: BlockContext, emit: Emit) -> None:  # noqa: A002
        gen = block().run(input, ctx)
        try:
            async for name, value in gen:
                emit(name, value)
        finally:
            aclose = getattr(gen, "aclose", None)
            if aclose is not None:
                await aclose()  # on timeout/cancel: run the block's finally clauses now


def _run_block_remote(payload: bytes) -> list[tuple[str, Any]]:
    """Runs on a Dask worker thread: rebuild block and context, run to completion, return emissions."""
    import cloudpickle

    from forge.blocks.credentials import CredentialStore

    block, input, settings, workspace, ctx_fields = cloudpickle.loads(payload)  # noqa: A001
    private_dir(workspace, root=settings.workspace)
    ctx = BlockContext(workspace=workspace, settings=settings,
                       credentials=CredentialStore.for_workspace(settings.workspace), **ctx_fields)

    async def collect() -> list[tuple[str, Any]]:
        return [(name, value) async for name, value in block().run(input, ctx)]

    return asyncio.run(collect())


class DaskExecutor(DaskConnection, Executor):
    """`address` of a running scheduler (tcp://HOST:PORT), or an existing asynchronous `client`."""

    name = "dask"
    streams_live = False

    @staticmethod
    def _payload(block: type[Block], input: BaseModel, ctx: BlockContext) -> bytes:  # noqa: A002
        import cloudpickle

        module = sys.modules.get(block.__module__)
        if module is not None and block.__module__.startswith(USER_BLOCK_MODULE_PREFIX):
            cloudpickle.register_pickle_by_value(module)  # workers lack the user's --blocks-dir
        ctx_fields = {"run_id": ctx.run_id, "node_id": ctx.node_id, "extras": ctx.extras}
        return cloudpickle.dumps((block, input, ctx.settings, ctx.workspace, ctx_fields))

    async def run(self, block: type[Block], input: BaseModel, ctx: BlockContext, emit: Emit) -> None:  # noqa: A002
        payload = self._payload(block, input, ctx)
        emissions = await self.submit(_run_block_remote, payload, key=f"{ctx.node_id}-{uuid.uuid4().hex}")
        for name, value in emissions:
            emit(name, value)


def make_executor(name: str, scheduler: str | None = None) -> Executor:
    if name == "inprocess":
        if scheduler:
            raise ConfigError("--scheduler only applies to --executor dask; add it or drop --scheduler")
        return InProcessExecutor()
    if name == "dask":
        return DaskExecutor(scheduler)
    raise ConfigError(f"unknown executor {name!r}; use inprocess or dask")
