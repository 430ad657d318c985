"""Code blocks: Python and shell commands in the project's sandbox (bubblewrap by default).

The sandbox captures stdout and stderr as one interleaved stream (so a traceback stays next to
the output that preceded it): both arrive on `stdout`. `stderr` carries what the sandbox itself
reports: a kill (time, memory, process limit) or a crash explanation; it is empty otherwise.

A cancelled block (the engine's node timeout, Ctrl-C) kills its sandboxed process tree before the
cancellation goes on, so a retry never runs beside the attempt it replaces.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, EmptyModel, Preview
from forge.blocks.files import workspace_root
from forge.errors import ToolError
from forge.security.secrets import redact
from forge.tools.sandbox import SandboxResult, run_command, run_python
from forge.tools.shell_policy import check_command

if TYPE_CHECKING:
    from forge.config import Settings


def _limits(ctx: BlockContext) -> Settings:
    """The settings' code limits, without the cut to the agent's observation size: block outputs
    are not prompts, so they get the full code_output_chars."""
    s = ctx.settings
    return s.model_copy(update={"max_observation_chars": s.code_output_chars + 150})


async def _sandboxed(run: Callable[[threading.Event], SandboxResult]) -> SandboxResult:
    """`run(cancel)` in a worker thread. Cancelling the caller sets `cancel`, and waits for the
    thread (the sandbox kills its process tree within a scan, then returns) before re-raising."""
    cancel = threading.Event()
    thread = asyncio.ensure_future(asyncio.to_thread(run, cancel))
    try:
        return await asyncio.shield(thread)
    except asyncio.CancelledError:
        cancel.set()
        while not thread.done():
            try:
                await asyncio.wait([thread])
            except asyncio.CancelledError:  # cancelled again: the wait stays short, finish it
                continue
        if not thread.cancelled():
            thread.exception()  # retrieved: the cancellation is what the caller sees
        raise


def _emit(result: SandboxResult) -> list[tuple[str, object]]:
    notes = [f"killed: {result.killed_reason}" if result.killed_reason else "", result.note or ""]
    if result.truncated:
        notes.append("output truncated (head and tail kept)")
    return [
        ("stdout", redact(result.output)),
        ("stderr", "; ".join(n for n in notes if n)),
        ("exit_code", -1 if result.exit_code is None else result.exit_code),
    ]


class _Outputs(EmptyModel):
    stdout: str = Field(description="Standard output and error, interleaved, capped (head and tail kept).")
    stderr: str = Field(description="The sandbox's own report: kill reason or crash explanation; usually empty.")
    exit_code: int = Field(description="The process's exit code; -1 when the sandbox killed it.")


class CodeExecute(Block):
    id = "code_execute"
    name = "Execute code"
    description = (
        "Run Python in the sandbox: no network, the files folder as the (only writable) working "
        "directory, and the settings' time/memory/process limits."
    )
    categories = (BlockCategory.TOOLS,)
    cacheable = False
    main_output = "stdout"

    class Input(EmptyModel):
        code: str = Field(min_length=1, description="The program's source.")
        language: Literal["python"] = Field("python", description="Only Python is supported.")

    Output = _Outputs

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        return Preview(action="execute Python", destination="sandbox (workflow files folder writable)",
                       payload=input.code)

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        workspace, settings = workspace_root(ctx), _limits(ctx)
        result = await _sandboxed(lambda cancel: run_python(workspace, settings, code=input.code, cancel=cancel))
        for item in _emit(result):
            yield item


class ShellCommand(Block):
    id = "shell_command"
    name = "Shell command"
    description = (
        "Run one command (no pipes, redirects or chaining) in the sandbox, if the shell policy "
        "(AUTOGPT_SHELL_ALLOWLIST / AUTOGPT_SHELL_DENYLIST) allows it; a refused command fails the node."
    )
    categories = (BlockCategory.TOOLS,)
    cacheable = False
    main_output = "stdout"

    class Input(EmptyModel):
        command: str = Field(min_length=1, description="e.g. 'ls -la' or 'grep -n TODO notes.txt'.")

    Output = _Outputs

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        notes: list[str] = []
        try:
            check_command(input.command, ctx.settings.shell_allowlist, ctx.settings.shell_denylist)
        except ToolError as e:
            notes.append(f"the real run would fail: {e}")
        return Preview(action="run command", destination="sandbox (workflow files folder writable)",
                       payload=input.command, notes=notes)

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        argv = check_command(input.command, ctx.settings.shell_allowlist, ctx.settings.shell_denylist)
        workspace, settings = workspace_root(ctx), _limits(ctx)
        result = await _sandboxed(lambda cancel: run_command(argv, workspace, settings, cancel=cancel))
        for item in _emit(result):
            yield item
