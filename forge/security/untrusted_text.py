"""Text from a model, a web page, a file name or a goal is data: make it safe to store and to show.

- `clean_text`: any Python str becomes one that encodes to UTF-8. Lone surrogates (a model's
  reply, `surrogateescape`d bytes of a non-UTF-8 goal or file name) turn into U+FFFD, so writing
  the run log, printing or prompting can never raise `UnicodeEncodeError`.
- `for_terminal`: control characters made visible (`\\x1b`, `\\r`, `\\u202e`), so escape sequences
  in thoughts or tool output cannot move the cursor, erase lines, recolour or retitle the
  terminal, and bidi overrides or zero-width characters cannot hide what an action does.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab and newline, DEL, C1 controls; Unicode format characters that reorder or
# hide text (bidi embeddings/overrides/isolates, zero-width space/joiners, marks, BOM) and the
# line/paragraph separators some terminals treat as newlines.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED = {"\r": "\\r", "\x1b": "\\x1b", "\x08": "\\b", "\x0c": "\\f", "\x0b": "\\v", "\x00": "\\0"}


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (a no-op for ordinary text)."""
    if _SURROGATE.search(text) is None:
        return text
    # A surrogateescape'd byte is as good as unknown: replace it rather than guess an encoding.
    return _SURROGATE.sub("\ufffd", text)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with control and invisible formatting characters shown as escapes.

    Newlines (when `keep_newlines`) and tabs stay as they are; everything else that a terminal
    would interpret, or that would make text look different from what it is, becomes visible."""
    text = _INVISIBLE.sub(_escape, text)
    if not keep_newlines:
        text = text.replace("\n", "\\n")
    return text


def terminal_safe(value: object) -> str:
    """Any value from a model, a tool, a file or a stored record, as it may be printed."""
    return for_terminal(clean_text(str(value)))


def has_invisible(text: str) -> bool:
    """True when `for_terminal` would change `text` (newlines aside)."""
    return _INVISIBLE.search(text) is not None
