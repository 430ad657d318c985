"""The engine with built-in blocks (calculator, condition, display_result), when they are installed."""

from __future__ import annotations

import asyncio

import pytest

from forge.blocks.registry import BlockRegistry
from forge.workflow.model import parse_workflow
from forge.workflow.runs import run_workflow

REGISTRY = BlockRegistry.from_plugins()
pytestmark = pytest.mark.skipif(
    not {"calculator", "condition", "display_result"} <= set(REGISTRY.ids()), reason="built-in blocks not installed"
)


@pytest.mark.parametrize("expression, taken, skipped", [("6 * 7", "big", "small"), ("1 + 1", "small", "big")])
def test_calculator_condition_routing(settings, expression, taken, skipped):
    workflow = parse_workflow({"name": "calc", "nodes": [
        {"id": "calc", "block": "calculator", "config": {"expression": expression}},
        {"id": "check", "block": "condition", "config": {"operator": ">", "threshold": 10}},
        {"id": "big", "block": "display_result"},
        {"id": "small", "block": "display_result"},
    ], "edges": [
        {"from": "calc", "to": "check"},
        {"from": "check", "from_output": "true", "to": "big"},
        {"from": "check", "from_output": "false", "to": "small"},
    ]})
    result = asyncio.run(run_workflow(workflow, REGISTRY, settings))
    assert result.status == "completed"
    assert result.nodes[taken].status == "completed" and result.nodes[skipped].status == "skipped"
    assert result.outputs()[taken]["value"] == result.outputs()["calc"]["result"]
