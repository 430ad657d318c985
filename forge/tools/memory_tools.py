"""Long-term memory tools (remember / recall), registered through the `autogpt.tools` entry point.

They use the MemoryStore the agent puts in `ctx.extras["memory"]` (and record `ctx.extras["run_id"]`
and `["step"]` with each memory); without one, long-term memory is off and they say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from forge.errors import ToolError
from forge.tools.base import ToolContext, tool

if TYPE_CHECKING:
    from forge.memory.store import MemoryStore

__all__ = ["remember", "recall"]

MAX_MEMORY_CHARS = 2000  # one memory; longer texts embed poorly (256 tokens) and bloat recalls
RECALL_TEXT_CHARS = 300  # per recalled memory in the observation


def _store(ctx: ToolContext) -> MemoryStore:
    store = ctx.extras.get("memory")
    if store is None:
        raise ToolError(
            "long-term memory is off (AUTOGPT_MEMORY=false or --no-memory); keep notes in a file with write_file"
        )
    return store  # type: ignore[no-any-return]


def _run_meta(ctx: ToolContext) -> dict[str, Any]:
    return {k: ctx.extras[k] for k in ("run_id", "step") if ctx.extras.get(k) is not None}


@tool
def remember(ctx: ToolContext, text: Annotated[str, Field(min_length=1, max_length=MAX_MEMORY_CHARS)]) -> str:
    """Save a fact to long-term memory.

    Args:
        text: The fact, self-contained (names, numbers, paths).
    """
    text = text.strip()
    if not text:
        raise ToolError("text is empty; give the fact to remember")
    _store(ctx).add(text, kind="note", **_run_meta(ctx))
    return f"Remembered: {text[:100]}"


@tool
def recall(ctx: ToolContext, query: str, k: Annotated[int, Field(ge=1, le=20)] = 5) -> str:
    """Search long-term memory.

    Args:
        query: What to look for.
        k: How many memories to return.
    """
    hits = _store(ctx).search(query, top_k=k)
    if not hits:
        return "No memories match."
    lines = []
    for i, hit in enumerate(hits, 1):
        text = " ".join(hit.text.split())
        if len(text) > RECALL_TEXT_CHARS:
            text = text[:RECALL_TEXT_CHARS] + "..."
        lines.append(f"{i}. ({hit.score:.2f}) {text}")
    return "\n".join(lines)
