"""Blocks for testing workflows, shipped like the scripted fake model: deterministic, offline, cheap.

Not registered through entry points. Register them explicitly:

    registry = BlockRegistry(TEST_BLOCKS)

or point `--blocks-dir` at a folder with a file re-exporting them (the registry loads what a file
defines or lists in `__all__`):

    from forge.blocks.testing import *  # noqa: F403
    from forge.blocks.testing import __all__  # noqa: F401

`CALLS` counts executions per node id (in this process) so tests can prove a node did or did not run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect

__all__ = ["Noop", "Sleep", "Flaky", "Fail", "Echo", "EmitMany", "Branch", "Add", "Clock", "TEST_BLOCKS", "CALLS"]

CALLS: Counter[str] = Counter()
_FLAKY_ATTEMPTS: Counter[str] = Counter()


def _count(ctx: BlockContext) -> None:
    CALLS[ctx.node_id] += 1


class Noop(Block):
    id = "noop"
    description = "Pass the value through unchanged (default None)."
    categories = (BlockCategory.LOGIC,)

    class Input(BaseModel):
        value: Any = None

    class Output(BaseModel):
        value: Any

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        yield "value", input.value


class Sleep(Block):
    id = "sleep"
    description = "Sleep asynchronously, then emit the value and when it started and finished (epoch seconds)."
    categories = (BlockCategory.LOGIC,)

    class Input(BaseModel):
        seconds: float = Field(0.1, ge=0)
        value: Any = None

    class Output(BaseModel):
        value: Any
        started: float
        finished: float

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        started = time.time()
        await asyncio.sleep(input.seconds)
        yield "started", started
        yield "finished", time.time()
        yield "value", input.value


class Flaky(Block):
    """Fails `failures` times for a given `key`, then succeeds. The count lives in `counter_file`
    when given (survives processes, e.g. `workflow resume` in a new CLI), else in memory."""

    id = "flaky"
    description = "Fail the first N attempts (per key), then emit the value and the attempt number."
    categories = (BlockCategory.LOGIC,)

    class Input(BaseModel):
        key: str
        failures: int = Field(1, ge=0)
        value: Any = None
        counter_file: str | None = None

    class Output(BaseModel):
        value: Any
        attempts: int

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        if input.counter_file:
            path = Path(input.counter_file)
            counts = json.loads(path.read_text()) if path.exists() else {}
            counts[input.key] = attempt = counts.get(input.key, 0) + 1
            path.write_text(json.dumps(counts))
        else:
            _FLAKY_ATTEMPTS[input.key] += 1
            attempt = _FLAKY_ATTEMPTS[input.key]
        if attempt <= input.failures:
            raise RuntimeError(f"flaky {input.key}: attempt {attempt} of {input.failures + 1} fails on purpose")
        yield "attempts", attempt
        yield "value", input.value


class Fail(Block):
    id = "fail"
    description = "Always raise RuntimeError(message)."
    categories = (BlockCategory.LOGIC,)

    class Input(BaseModel):
        message: str = "failing on purpose"
        value: Any = None

    class Output(BaseModel):
        value: Any

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        raise RuntimeError(input.message)
        yield "value", None  # pragma: no cover - makes this an async generator


class Echo(Block):
    id = "echo"
    description = "Emit the text with a prefix, upper-cased, and its length: three outputs."
    categories = (BlockCategory.DATA,)

    class Input(BaseModel):
        text: str
        prefix: str = ""

    class Output(BaseModel):
        text: str
        upper: str
        length: int

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        text = input.prefix + input.text
        yield "text", text
        yield "upper", text.upper()
        yield "length", len(text)


class EmitMany(Block):
    id = "emit_many"
    description = "Stream `count` items on `item` (prefix-0, prefix-1, ...), then the total on `count`."
    categories = (BlockCategory.DATA,)

    class Input(BaseModel):
        count: int = Field(3, ge=0)
        prefix: str = "item"
        delay: float = Field(0.0, ge=0)

    class Output(BaseModel):
        item: str
        count: int

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        for i in range(input.count):
            if input.delay:
                await asyncio.sleep(input.delay)
            yield "item", f"{input.prefix}-{i}"
        yield "count", input.count


class Branch(Block):
    id = "branch"
    description = "Route the value to `true` or `false` (only the taken output is emitted)."
    categories = (BlockCategory.LOGIC,)

    class Input(BaseModel):
        value: Any = None
        take: bool = True

    class Output(BaseModel):
        true: Any
        false: Any

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        yield ("true" if input.take else "false"), input.value


class Add(Block):
    id = "add"
    description = "Add two numbers."
    categories = (BlockCategory.DATA,)

    class Input(BaseModel):
        a: float
        b: float = 0

    class Output(BaseModel):
        sum: float

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        yield "sum", input.a + input.b


class Clock(Block):
    id = "clock"
    description = "Emit the current time (never cached: fresh data)."
    categories = (BlockCategory.DATA,)
    cacheable = False
    effect = Effect.NONE

    class Input(BaseModel):
        label: str = ""

    class Output(BaseModel):
        now: float

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        _count(ctx)
        yield "now", time.time()


TEST_BLOCKS: list[type[Block]] = [Noop, Sleep, Flaky, Fail, Echo, EmitMany, Branch, Add, Clock]
