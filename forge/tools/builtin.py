"""The built-in tools, registered through the `autogpt.tools` entry point (`builtin`).

Docstrings become prompt text for every step, so they stay short. Tools return observations
(strings); problems the model caused raise ToolError, which the agent feeds back to it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from forge.errors import PathOutsideWorkspaceError, ToolError
from forge.security.secrets import redact
from forge.security.untrusted_text import clean_text
from forge.tools import web
from forge.tools.base import ToolContext, tool
from forge.tools.sandbox import SandboxResult, run_command, run_python
from forge.tools.shell_policy import check_command
from forge.tools.workspace import (
    bind_workspace,
    display_path,
    hidden_data_folder,
    open_regular_file,
    write_text_file,
)
from forge.tools.workspace import resolve_in_workspace as _confine

__all__ = [
    "read_file",
    "write_file",
    "list_folder",
    "web_search",
    "read_webpage",
    "execute_python",
    "execute_shell",
    "ask_user",
    "read_output",
    "finish",
]

# Schema hints, not validation (the tools refuse bad values with clearer messages). They reach
# function specs and the embedded model's grammar, which then cannot produce an absolute path.
RelativePath = Annotated[str, Field(json_schema_extra={"pattern": r"^[A-Za-z0-9_.][A-Za-z0-9_./ -]{0,199}$"})]
OptionalRelativePath = Annotated[
    str, Field(json_schema_extra={"pattern": r"^([A-Za-z0-9_.][A-Za-z0-9_./ -]{0,199})?$"})
]
HttpUrl = Annotated[str, Field(json_schema_extra={"pattern": r"^https?://[^ ]{1,500}$"})]

MAX_LIST_ENTRIES = 200
MAX_SEARCH_RESULTS = 10
# Folders listed but not expanded: big, generated, and rarely what the model is looking for.
_NOT_EXPANDED = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache"})


def _workspace(ctx: ToolContext) -> Path:
    return bind_workspace(ctx.workspace, ctx.settings)


def resolve_in_workspace(ws: Path, path: str, *, ctx: ToolContext, must_exist: bool = False) -> Path:
    """A confined path, refusing AutoGPT's own data folder when it lies inside a --workdir."""
    target = _confine(ws, path, must_exist=must_exist)
    hidden = hidden_data_folder(ws, ctx.settings)
    if hidden is not None and target.is_relative_to(hidden):
        raise PathOutsideWorkspaceError(f"{path!r} is in AutoGPT's own data folder; work on the project's files")
    return target


def _before_change(ctx: ToolContext, target: Path) -> None:
    """Keep the file's current version (for `autogpt runs undo`) before a tool changes it."""
    journal = ctx.extras.get("file_journal")
    if journal is not None:
        journal.keep(target)


def _read_chunk_chars(ctx: ToolContext) -> int:
    """Leave room for the truncation marker inside the agent's observation limit."""
    return max(getattr(ctx.settings, "max_observation_chars", 2000) - 200, 1000)


@tool
def read_file(ctx: ToolContext, path: RelativePath, offset: Annotated[int, Field(ge=0)] = 0) -> str:
    """Read a text file from the workspace.

    Args:
        path: File path relative to the workspace.
        offset: Character to start at, for long files.
    """
    ws = _workspace(ctx)
    target = resolve_in_workspace(ws, path, ctx=ctx, must_exist=True)
    shown = display_path(ws, target)
    if target.is_dir():
        raise ToolError(f"{shown!r} is a folder; use list_folder to see its files")
    if offset < 0:
        raise ToolError("offset must be 0 or more")
    chunk = _read_chunk_chars(ctx)
    with open_regular_file(target, shown) as raw:
        size = os.fstat(raw.fileno()).st_size
        if b"\x00" in raw.read(8192):
            raise ToolError(f"{shown!r} is a binary file ({size} bytes); read_file reads text files only")
        raw.seek(0)
        if offset >= size:  # characters are never fewer than bytes: nothing is left to read
            text = ""
        else:
            f = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            _skip_chars(f, offset)
            text = f.read(chunk + 1)
    if not text:
        return "(empty file)" if offset == 0 else f"(nothing after offset {offset}; the file has ended)"
    if len(text) <= chunk:
        return text
    end = offset + chunk
    return (
        f"{text[:chunk]}\n[truncated: showed characters {offset}-{end} of a {size}-byte file; "
        f"call read_file with offset={end} to read on]"
    )


def _skip_chars(f: io.TextIOBase, count: int, block: int = 1 << 20) -> None:
    """Read past `count` characters a block at a time: a huge offset costs time, not memory."""
    while count > 0:
        got = len(f.read(min(count, block)))
        if got == 0:
            return
        count -= got


@tool
def write_file(ctx: ToolContext, path: RelativePath, content: str) -> str:
    """Write text to a workspace file, replacing it.

    Args:
        path: File path relative to the workspace.
        content: The full text.
    """
    ws = _workspace(ctx)
    target = resolve_in_workspace(ws, path, ctx=ctx)
    shown = display_path(ws, target)
    if not target.is_dir():
        _before_change(ctx, target)
    write_text_file(target, content, shown)
    return f"wrote {len(content)} characters to {shown}"


@tool
def list_folder(ctx: ToolContext, path: RelativePath = ".") -> str:
    """List a workspace folder, recursively.

    Args:
        path: Folder relative to the workspace.
    """
    ws = _workspace(ctx)
    target = resolve_in_workspace(ws, path, ctx=ctx, must_exist=True)
    shown = display_path(ws, target)
    if not target.is_dir():
        raise ToolError(f"{shown!r} is a file, not a folder; use read_file to read it")
    entries: list[str] = []
    hidden = hidden_data_folder(ws, ctx.settings)
    # followlinks=False: a symlinked folder is listed, never walked (it could lead anywhere).
    for dirpath, dirnames, filenames in os.walk(target):
        base = Path(dirpath)
        rel = base.relative_to(target)
        for name in sorted(dirnames):
            full = base / name
            if full.is_symlink():
                entries.append(f"{(rel / name).as_posix()} -> {os.readlink(full)}")
            elif full.resolve() == hidden:
                continue
            else:
                suffix = " (not expanded)" if name in _NOT_EXPANDED else ""
                entries.append(f"{(rel / name).as_posix()}/{suffix}")
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in _NOT_EXPANDED and not (base / d).is_symlink() and (base / d).resolve() != hidden
        )
        for name in sorted(filenames):
            full = base / name
            if full.is_symlink():
                entries.append(f"{(rel / name).as_posix()} -> {os.readlink(full)}")
            else:
                entries.append(f"{(rel / name).as_posix()} ({_size(full)})")
        if len(entries) > MAX_LIST_ENTRIES:
            break
    if not entries:
        return f"{shown} is empty"
    entries = [_printable_entry(e) for e in entries]
    entries.sort()
    budget = _read_chunk_chars(ctx)
    shown_entries: list[str] = []
    for entry in entries[:MAX_LIST_ENTRIES]:
        budget -= len(entry) + 1
        if budget < 0:
            break
        shown_entries.append(entry)
    more = ""
    if len(shown_entries) < len(entries):
        more = f"\n[listing cut after {len(shown_entries)} entries; list a subfolder to see more]"
    return f"Contents of {shown}:\n" + "\n".join(shown_entries) + more


def _printable_entry(entry: str) -> str:
    """File names are bytes on Linux: one that is not UTF-8 is shown with U+FFFD, and said so."""
    cleaned = clean_text(entry)
    return entry if cleaned == entry else f"{cleaned} [name is not valid UTF-8]"


def _size(path: Path) -> str:
    try:
        size = float(path.stat().st_size)
    except OSError:
        return "unreadable"
    if size < 1024:
        return "1 byte" if size == 1 else f"{int(size)} bytes"
    for unit in ("KB", "MB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GB"


@tool
def web_search(
    ctx: ToolContext, query: str, max_results: Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)] = 5
) -> str:
    """Search the web.

    Args:
        query: What to search for.
        max_results: How many results (1-10).
    """
    if not query.strip():
        raise ToolError("query is empty; say what to search for")
    backend = web.get_search_backend(ctx.settings.search_backend, ctx.settings)
    return web.format_results(query, backend.search(query, max_results)[:max_results])


@tool
def read_webpage(ctx: ToolContext, url: HttpUrl, question: str | None = None) -> str:
    """Read a web page's text and links.

    Args:
        url: The http(s) URL.
        question: If set, return only the paragraphs relevant to it.
    """
    return web.read_webpage(url, ctx.settings, question)


@tool
def execute_python(ctx: ToolContext, code: str = "", file: OptionalRelativePath = "") -> str:
    """Run Python in a sandbox (workspace as cwd, no network).

    Args:
        code: Python source to run.
        file: Or a .py file in the workspace.
    """
    if bool(code.strip()) == bool(file.strip()):
        raise ToolError("give exactly one of code (Python source) or file (a .py file in the workspace)")
    ws = _workspace(ctx)
    if file.strip():
        target = resolve_in_workspace(ws, file, ctx=ctx, must_exist=True)
        if not target.is_file():
            raise ToolError(f"{display_path(ws, target)!r} is not a file")
        result = run_python(ws, ctx.settings, file=target)
    else:
        result = run_python(ws, ctx.settings, code=code)
    return _ran(result)


@tool
def execute_shell(ctx: ToolContext, command: str) -> str:
    """Run one command (no pipes, redirects or chaining) in the sandbox.

    Args:
        command: e.g. "ls -la" or "grep -n TODO notes.txt".
    """
    argv = check_command(command, ctx.settings.shell_allowlist, ctx.settings.shell_denylist)
    return _ran(run_command(argv, _workspace(ctx), ctx.settings))


def _ran(result: SandboxResult) -> str:
    """What the code printed. A non-zero exit or a kill is the step's failure (ToolError), so the
    history shows it as an error the model must handle, not as a result it may build on."""
    text = redact(result.observation())
    if not result.ok:
        raise ToolError(text)
    return text


@tool
def ask_user(ctx: ToolContext, question: str) -> str:
    """Ask the user a question.

    Args:
        question: The question.
    """
    if ctx.ask_user is None:
        return "No user is available in this run; decide yourself and continue."
    answer = ctx.ask_user(question)
    if not answer.strip():
        return "The user gave no answer; decide yourself and continue."
    return f"The user answered: {answer}"


@tool
def read_output(
    ctx: ToolContext, step: Annotated[int, Field(ge=1, le=100_000)], offset: Annotated[int, Field(ge=0)] = 0
) -> str:
    """Read the rest of a step's cut result.

    Args:
        step: The step number.
        offset: Character to start at.
    """
    from forge.events.models import ToolResult

    events = ctx.extras.get("events")
    if events is None and ctx.extras.get("run_dir") is not None:
        from forge.runs.log import RunLog

        events = RunLog(Path(ctx.extras["run_dir"]))
    if events is None:
        raise ToolError("read_output works only inside an agent run")
    output = next((ev.output for ev in events.events() if isinstance(ev, ToolResult) and ev.step == step), None)
    if output is None:
        raise ToolError(f"step {step} has no recorded result; pick a step shown in your history")
    chunk = _read_chunk_chars(ctx)
    text = output[offset : offset + chunk]
    if not text:
        return f"(nothing after offset {offset}; the result has {len(output)} characters)"
    end = offset + len(text)
    if end < len(output):
        text += f"\n[showed characters {offset}-{end} of {len(output)}; call read_output(step={step}, offset={end})]"
    return text


@tool(ends_run=True)
def finish(reason: str) -> str:
    """End the run: the goal is done or cannot be done.

    Args:
        reason: What was achieved, or why it is impossible.
    """
    return reason
