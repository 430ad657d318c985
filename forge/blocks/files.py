"""File blocks, confined to the workflow's files folder (`ctx.workspace`).

Paths go through the agent tools' `resolve_in_workspace`: absolute paths, `..` escapes, symlinks
leading outside and sibling folders sharing a prefix are refused the same way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, EmptyModel, Preview
from forge.blocks.filerefs import FilePath, FileRef, file_ref
from forge.errors import ToolError
from forge.security.permissions import private_dir
from forge.tools.workspace import display_path, resolve_in_workspace, write_text_file

MAX_READ_BYTES = 10 * 1024 * 1024  # a block output travels through memory and the run log


def workspace_root(ctx: BlockContext) -> Path:
    return private_dir(ctx.workspace, root=ctx.settings.workspace).resolve()


def confined(ctx: BlockContext, path: str, *, must_exist: bool = False) -> Path:
    """The absolute path of `path` inside the workspace, or PathOutsideWorkspaceError."""
    return resolve_in_workspace(workspace_root(ctx), path, must_exist=must_exist)


def shown(ctx: BlockContext, path: Path) -> str:
    return display_path(workspace_root(ctx), path)


def read_text(ctx: BlockContext, path: str) -> str:
    return read_text_in(workspace_root(ctx), path)


def read_text_in(root: Path, path: str) -> str:
    """The text of `path` inside `root` (confined, at most MAX_READ_BYTES, not binary)."""
    target = resolve_in_workspace(root, path, must_exist=True)
    if target.is_dir():
        raise ToolError(f"{path!r} is a folder, not a file; give a file path")
    size = target.stat().st_size
    if size > MAX_READ_BYTES:
        raise ToolError(f"{path!r} is {size} bytes; file blocks read at most {MAX_READ_BYTES} bytes")
    data = target.read_bytes()
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path!r} is a binary file; only text files can be read as text")
    return data.decode("utf-8", errors="replace")


def write_text(ctx: BlockContext, path: str, content: str, *, append: bool = False) -> str:
    """Write (atomically, via a temp file and rename) or append; returns the workspace-relative path."""
    target = confined(ctx, path)
    write_text_file(target, content, shown(ctx, target), append=append)
    return shown(ctx, target)


def written_ref(ctx: BlockContext, path: str) -> dict[str, Any]:
    """The FileRef (as emitted) of a text file a block just wrote at workspace-relative `path`."""
    return file_ref(workspace_root(ctx), path, text=True)


def write_preview(ctx: BlockContext, path: str, content: str, *, append: bool = False) -> Preview:
    """A dry run's view of a file write: the path (checked, not created) and the text."""
    notes: list[str] = []
    try:
        target = resolve_in_workspace(ctx.workspace.resolve(), path)
        shown_path = display_path(ctx.workspace.resolve(), target)
        if target.exists() and not append:
            notes.append("overwrites the existing file")
    except ToolError as e:
        shown_path, notes = path, [f"the real run would fail: {e}"]
    return Preview(action="append to file" if append else "write file",
                   destination=f"{shown_path} (workflow files folder)", payload=content, notes=notes)


class FileRead(Block):
    id = "file_read"
    name = "Read file"
    description = "Read a text file from the workflow's files folder."
    categories = (BlockCategory.FILES,)
    cacheable = False  # the file may change between runs while the path stays the same
    effect = Effect.NONE  # reading a local file changes nothing: dry runs read it for real

    class Input(EmptyModel):
        path: FilePath = Field(description="Path relative to the files folder, e.g. 'data/notes.txt'.")

    class Output(EmptyModel):
        content: str = Field(description="The file's text (UTF-8).")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        yield "content", await asyncio.to_thread(read_text, ctx, input.path)


class FileWrite(Block):
    id = "file_write"
    name = "Write file"
    description = "Write (or append) text to a file in the workflow's files folder; folders are created."
    categories = (BlockCategory.FILES,)
    cacheable = False
    main_input = "content"
    main_output = "file"  # so `file_write -> llm_call` hands the model the file's text

    class Input(EmptyModel):
        path: FilePath = Field(description="Path relative to the files folder, e.g. 'out/report.md'.")
        content: str = Field(description="The text to write.")
        mode: Literal["overwrite", "append"] = Field("overwrite", description="Replace the file or add to its end.")

    class Output(EmptyModel):
        path: str = Field(description="The written file, relative to the files folder.")
        file: FileRef = Field(description="A reference to the written file (its text in a text input).")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        path = await asyncio.to_thread(write_text, ctx, input.path, input.content, append=input.mode == "append")
        yield "path", path
        yield "file", written_ref(ctx, path)

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        return write_preview(ctx, input.path, input.content, append=input.mode == "append")
