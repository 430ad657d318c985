"""Tool <-> block adapters (docs/architecture.md: a tool can be used as a block and a block as a tool).

    tool_blocks()            every agent tool as a block `tool_<name>` (args model = Input,
                             one output `result`); loaded through the `autogpt.blocks` entry point
    block_as_tool(Calc)      a block as an agent tool (`Tool.from_schema`): its args model IS the
                             block's Input, the answer = its outputs as compact text
    run_block(cls, data, ctx)  run a block to completion -> [(output, value), ...]
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, EmptyModel
from forge.tools.base import Tool, ToolContext, ToolRegistry

# Tools that make no sense outside an agent's loop.
SKIPPED_TOOLS = frozenset({"finish", "ask_user"})


async def run_block(
    block: type[Block] | Block, data: dict[str, Any] | BaseModel, ctx: BlockContext
) -> list[tuple[str, Any]]:
    """Validate `data` against the block's Input (an Input instance is taken as is), run it and
    collect every emission in order."""
    instance = block() if isinstance(block, type) else block
    parsed = type(instance).Input.model_validate(data)
    return [item async for item in instance.run(parsed, ctx)]


def run_block_sync(
    block: type[Block] | Block, data: dict[str, Any] | BaseModel, ctx: BlockContext
) -> list[tuple[str, Any]]:
    """`run_block` from synchronous code, also from a thread whose event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_block(block, data, ctx))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="block") as pool:
        return pool.submit(asyncio.run, run_block(block, data, ctx)).result()


# Tools as blocks -----------------------------------------------------------------------------
class ToolResult(EmptyModel):
    result: str = Field(description="The tool's answer, as the agent would see it.")


class ToolBlock(Block):
    """Base of the generated `tool_<name>` blocks."""

    tool: ClassVar[Tool]
    categories = (BlockCategory.TOOLS,)
    # Tools read or change the world (files, web, code): never served from the cache.
    cacheable = False
    Output = ToolResult

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:
        tool_ctx = ToolContext(workspace=ctx.workspace, settings=ctx.settings, ask_user=ctx.ask_user, extras=ctx.extras)
        args = input.model_dump(exclude_unset=True)
        yield "result", str(await asyncio.to_thread(self.tool, tool_ctx, args))


def tool_block(tool: Tool) -> type[ToolBlock]:
    """A block class wrapping `tool`: id `tool_<name>`, Input = the tool's args model."""
    attrs = {
        "id": f"tool_{tool.name}",
        "name": f"Tool: {tool.name}",
        "description": tool.description,
        "tool": tool,
        "Input": tool.args_model,
        "__module__": __name__,
    }
    return type(f"Tool_{tool.name}", (ToolBlock,), attrs)


def tool_blocks(registry: ToolRegistry | None = None) -> list[type[Block]]:
    """Every registered agent tool (built-ins and plugins) as a block, except finish/ask_user."""
    registry = registry or ToolRegistry.from_plugins()
    return [tool_block(t) for t in registry if t.name not in SKIPPED_TOOLS]


# Blocks as tools -----------------------------------------------------------------------------
def default_block_context(tool_ctx: ToolContext) -> BlockContext:
    from forge.blocks.credentials import CredentialStore

    return BlockContext(
        workspace=Path(tool_ctx.workspace),
        settings=tool_ctx.settings,
        credentials=CredentialStore.for_workspace(tool_ctx.settings.workspace),
        run_id=str(tool_ctx.extras.get("run_id", "")),
        ask_user=tool_ctx.ask_user,
        extras={"inputs": {}},
    )


def format_outputs(outputs: list[tuple[str, Any]]) -> str:
    """A single output as its text; several as one JSON object (the last value of each port)."""
    merged: dict[str, Any] = {}
    for name, value in outputs:
        merged[name] = value
    if not merged:
        return "(no output)"
    if len(merged) == 1:
        value = next(iter(merged.values()))
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return json.dumps(merged, ensure_ascii=False, default=str)


def block_as_tool(
    block_cls: type[Block], ctx_factory: Callable[[ToolContext], BlockContext] | None = None
) -> Tool:
    """An agent tool that runs `block_cls`. Its args model is the block's Input itself, so the
    JSON schema the model sees, the prompt signature and the validation are the block's own."""
    factory = ctx_factory or default_block_context

    def call(ctx: ToolContext, args: BaseModel) -> str:
        return format_outputs(run_block_sync(block_cls, args, factory(ctx)))

    description = block_cls.description or block_cls.name or block_cls.id
    return Tool.from_schema(block_cls.id, description, block_cls.Input, call)
