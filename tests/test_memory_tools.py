"""remember / recall: the agent's tools over the MemoryStore in ctx.extras["memory"]."""

from __future__ import annotations

import pytest

from forge.errors import ToolError
from forge.memory.store import MemoryStore
from forge.tools.base import ToolContext, ToolRegistry
from forge.tools.memory_tools import recall, remember


@pytest.fixture
def store(settings):
    with MemoryStore.open(settings) as s:
        yield s


def ctx_for(settings, **extras) -> ToolContext:
    return ToolContext(workspace=settings.agent_workspace(), settings=settings, extras=extras)


def test_tools_are_registered_with_short_schemas():
    registry = ToolRegistry.from_plugins()
    assert registry.get("remember") is remember and registry.get("recall") is recall
    assert remember.signature() == "remember(text: string) - Save a fact to long-term memory."
    k = recall.parameters_schema()["properties"]["k"]
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 20, 5)
    assert recall.parameters_schema()["required"] == ["query"]


@pytest.mark.parametrize("tool, args", [(remember, {"text": "x"}), (recall, {"query": "x"})])
def test_without_a_store_memory_is_off(settings, tool, args):
    with pytest.raises(ToolError, match=r"long-term memory is off \(AUTOGPT_MEMORY=false or --no-memory\)"):
        tool(ctx_for(settings), args)


def test_remember_then_recall_with_run_metadata(settings, store):
    ctx = ctx_for(settings, memory=store, run_id="run-42", step=7)
    for fact in ["The staging server is called hermes-2", "Lunch is at noon", "The backup runs at 03:00 UTC"]:
        assert remember(ctx, {"text": fact}).startswith("Remembered: ")
    (hit,) = store.search("name of the staging machine", top_k=1)
    assert hit.text == "The staging server is called hermes-2"
    assert (hit.metadata["run_id"], hit.metadata["step"], hit.metadata["kind"]) == ("run-42", 7, "note")

    out = recall(ctx, {"query": "what is the staging host called?", "k": 2})
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("1. (") and "hermes-2" in lines[0]


def test_recall_bounds_and_empty_store(settings, store):
    ctx = ctx_for(settings, memory=store)
    assert recall(ctx, {"query": "anything"}) == "No memories match."
    for bad in (0, 21):
        with pytest.raises(ToolError, match="invalid arguments for recall"):
            recall(ctx, {"query": "x", "k": bad})
    with pytest.raises(ToolError):
        remember(ctx, {"text": "   "})
    with pytest.raises(ToolError, match="invalid arguments for remember"):
        remember(ctx, {"text": "x" * 2001})
    assert store.count() == 0


def test_recall_truncates_long_memories(settings, store):
    store.add("budget " + "details " * 200)
    out = recall(ctx_for(settings, memory=store), {"query": "budget", "k": 1})
    assert out.endswith("...") and len(out) < 400
