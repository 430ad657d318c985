"""How a step's file changes look on screen: a header per file and its unified diff, coloured.

Reads the `FilesChanged` event (forge/events/models.py), the same record `autogpt runs show` reads.
File contents are untrusted: every line goes through `terminal_safe` before it reaches the terminal.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.syntax import Syntax
from rich.text import Text

from forge.security.untrusted_text import terminal_safe as safe

MAX_FILES_SHOWN = 10  # more changed files are listed by name only
MAX_LINES_SHOWN = 60  # per file on screen (the event keeps up to 120)

_MARK = {"created": ("new file", "green"), "modified": ("modified", "yellow"), "deleted": ("deleted", "red")}


def file_header(change: Any) -> Text:
    label, style = _MARK.get(change.change, (change.change, "yellow"))
    out = Text.assemble(("  ", ""), (f"{label}: ", style + " bold"), safe(change.path))
    if change.binary:
        out.append(" (binary)", style="dim")
    elif change.added or change.removed:
        out.append(f" (+{change.added} -{change.removed})", style="dim")
    if not change.kept:
        out.append(" [previous version not kept: cannot be undone]", style="bold red")
    return out


def diff_body(change: Any, max_lines: int = MAX_LINES_SHOWN) -> RenderableType | None:
    if not change.diff:
        return None
    lines = change.diff.splitlines()
    hidden = change.diff_truncated + max(0, len(lines) - max_lines)
    text = safe("\n".join(lines[:max_lines]))
    body = Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
    if hidden:
        body = Group(body, Text(f"... {hidden} more diff lines", style="dim"))
    return Padding(body, (0, 0, 0, 4))  # under its file's header


def render_changes(event: Any, *, diffs: bool = True, max_lines: int = MAX_LINES_SHOWN) -> RenderableType:
    """The FILES block of a step: what changed, with diffs (the first MAX_FILES_SHOWN files)."""
    parts: list[RenderableType] = [Text(f"FILES CHANGED ({len(event.changes)}):", style="cyan bold")]
    for i, change in enumerate(event.changes):
        if i >= MAX_FILES_SHOWN and max_lines <= MAX_LINES_SHOWN:
            parts.append(Text(f"  ... and {len(event.changes) - i} more: see `autogpt runs show`", style="dim"))
            break
        parts.append(file_header(change))
        if diffs and (body := diff_body(change, max_lines)) is not None:
            parts.append(body)
    return Group(*parts)
