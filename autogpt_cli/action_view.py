"""What the user sees of a proposed action before approving it: exactly what will run.

The model chooses the arguments, their order and their padding, so nothing here trusts them:
- every argument is shown, the ones that decide what happens (code, command, path, url,
  content, ...) first, each with its length;
- control characters and invisible formatting characters are shown as escapes (`\\x1b`, `\\r`,
  `\\u202e`), long runs of spaces and blank lines as a counted marker;
- every line of a value sits behind a gutter (`│`), so a value cannot imitate the prompt;
- a value too long to show whole keeps its head and its tail around an explicit marker that
  says how much is hidden and that `v` shows it all: nothing is ever cut silently.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text

from forge.security.untrusted_text import clean_text, for_terminal

# Arguments that decide what an action does, shown first whatever order the model used.
KEY_ARGS = ("command", "code", "file", "path", "url", "content", "query", "question", "text", "reason")
FULL_CHARS = 3000  # a value up to this size (and FULL_LINES lines) is always shown whole
FULL_LINES = 60
HEAD_LINES, TAIL_LINES = 40, 12
LINE_CHARS = 400  # one line longer than this keeps its head and tail within a shortened value
INLINE_CHARS = 100  # single-line values this short sit on the argument's own line
_SPACE_RUN = re.compile(r"[ \t]{32,}")
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){4,}")
GUTTER = "  │ "


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def _mark_padding(text: str) -> str:
    """Long runs of spaces or blank lines (padding that pushes things out of view) become markers."""
    text = _BLANK_RUN.sub(lambda m: f"\n⟨{m.group().count(chr(10)) - 1} blank lines⟩\n", text)
    return _SPACE_RUN.sub(lambda m: f"⟨{len(m.group())} spaces⟩", text)


def _shorten_line(line: str) -> str:
    if len(line) <= LINE_CHARS:
        return line
    head, tail = line[: LINE_CHARS * 3 // 4], line[-LINE_CHARS // 4 :]
    return f"{head}⟨… {len(line) - len(head) - len(tail)} characters of this line hidden …⟩{tail}"


def _lines(text: str, full: bool) -> tuple[list[str], bool]:
    """The value's display lines and whether anything was left out (announced in the lines)."""
    marked = for_terminal(_mark_padding(text))
    lines = marked.split("\n")
    if full or (len(marked) <= FULL_CHARS and len(lines) <= FULL_LINES):
        return lines, False
    if len(lines) > HEAD_LINES + TAIL_LINES:
        hidden = lines[HEAD_LINES:-TAIL_LINES]
        chars = sum(len(x) + 1 for x in hidden)
        marker = f"⟨… {len(hidden)} lines ({chars} characters) hidden: answer v to view all …⟩"
        lines = [*lines[:HEAD_LINES], marker, *lines[-TAIL_LINES:]]
    return [_shorten_line(x) if not x.startswith("⟨… ") else x for x in lines], True


def describe(value: Any) -> str:
    text = _value_text(value)
    n_lines = text.count("\n") + 1
    size = f"{len(text)} chars" + (f", {n_lines} lines" if n_lines > 1 else "")
    if isinstance(value, str) and for_terminal(text) != text:
        size += ", has control characters"
    return size


def ordered_args(args: dict[str, Any]) -> list[tuple[str, Any]]:
    first = [(k, args[k]) for k in KEY_ARGS if k in args]
    return first + [(k, v) for k, v in args.items() if k not in KEY_ARGS]


def render_action(tool: str, args: dict[str, Any], *, full: bool = False) -> tuple[Text, bool]:
    """The action as rich Text, and whether some value was shortened (then `v` shows it whole)."""
    out = Text()
    out.append("NEXT ACTION: ", style="bold cyan")
    out.append(for_terminal(clean_text(tool)), style="bold")
    if not args:
        out.append(" (no arguments)", style="dim")
    shortened = False
    for key, value in ordered_args(args):
        text = clean_text(_value_text(value))
        name = for_terminal(clean_text(str(key)), keep_newlines=False)
        out.append("\n  ")
        out.append(name, style="bold")
        shown = for_terminal(text, keep_newlines=False)
        if "\n" not in text and len(text) <= INLINE_CHARS and shown == text and not _SPACE_RUN.search(text):
            out.append(f" = {json.dumps(value, ensure_ascii=False) if isinstance(value, str) else text}")
            continue
        out.append(f" ({describe(value)}):", style="dim")
        lines, cut = _lines(text, full)
        shortened = shortened or cut
        for line in lines:
            out.append("\n" + GUTTER, style="dim")
            out.append(line, style="yellow" if line.startswith("⟨") and line.endswith("⟩") else "")
    return out, shortened


def call_line(tool: str, args: dict[str, Any], limit: int = 120) -> str:
    """One line for history views (never for approval): escaped, and says when it is cut."""
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in args.items())
    shown = for_terminal(clean_text(shown), keep_newlines=False)
    if len(shown) > limit:
        shown = shown[:limit] + f"… (+{len(shown) - limit} chars)"
    return f"{for_terminal(clean_text(tool))}({shown})"
