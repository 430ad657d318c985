"""Tool <-> block adapters (DESIGN.md: "a tool can be used as a block and a block as a tool").

    tool_blocks()            every agent tool as a block `tool_<name>` (args model = Input,
                             one output `result`); loaded through the `autogpt.blocks` entry point
    block_as_tool(Calc)      a block as an agent tool: args model = the block's Input, the
                             answer = its outputs as compact text
    run_block(cls, data, ctx)  run a block to completion -> [(output, value), ...]
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, EmptyModel
from forge.tools.base import Tool, ToolContext, ToolRegistry

# Tools that make no sense outside an agent's loop.
SKIPPED_TOOLS = frozenset({"finish", "ask_user"})


async def run_block(block: type[Block] | Block, data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    """Validate `data` against the block's Input, run it and collect every emission in order."""
    instance = block() if isinstance(block, type) else block
    parsed = type(instance).Input.model_validate(data)
    return [item async for item in instance.run(parsed, ctx)]


def run_block_sync(block: type[Block] | Block, data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
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
    """An agent tool that runs `block_cls`. Its parameters are the block's Input fields, so the
    args model, JSON schema and prompt signature come from the block's own schema."""
    factory = ctx_factory or default_block_context
    fields = block_cls.Input.model_fields
    # Tool reads parameters from the signature and types from __annotations__: give it both.
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {"ctx": ToolContext, "return": str}
    for fname, info in fields.items():
        default = inspect.Parameter.empty if info.is_required() else info.get_default(call_default_factory=True)
        params.append(inspect.Parameter(fname, inspect.Parameter.KEYWORD_ONLY, default=default))
        annotations[fname] = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation

    def call(ctx: ToolContext, **kwargs: Any) -> str:
        return format_outputs(run_block_sync(block_cls, kwargs, factory(ctx)))

    call.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    call.__annotations__ = annotations
    docs = "\n".join(f"    {n}: {' '.join((f.description or '').split())}" for n, f in fields.items())
    call.__doc__ = f"{block_cls.description or block_cls.name}\n\nArgs:\n{docs}\n"
    call.__name__ = block_cls.id
    return Tool(call, name=block_cls.id, description=block_cls.description or block_cls.name or block_cls.id)
