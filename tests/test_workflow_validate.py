"""Workflow validation: every problem is found before anything runs, with a message saying the fix."""

from __future__ import annotations

import json

import pytest

from forge.blocks.registry import BlockRegistry
from forge.blocks.testing import TEST_BLOCKS
from forge.errors import ConfigError
from forge.workflow.model import WorkflowValidationError, load_workflow, parse_workflow
from forge.workflow.schedule import cron_problem
from forge.workflow.validate import find_cycle, split_inputs, validate


@pytest.fixture
def registry() -> BlockRegistry:
    return BlockRegistry(TEST_BLOCKS)


def errors_of(data: dict, registry: BlockRegistry, inputs: list[str] | None = None) -> list[str]:
    workflow = parse_workflow(data)
    with pytest.raises(WorkflowValidationError) as info:
        validate(workflow, registry, split_inputs(inputs or [], workflow))
    assert isinstance(info.value, ConfigError)  # the CLI maps it to exit code 2
    return info.value.errors


def wf(nodes: list, edges: list | None = None, **extra) -> dict:
    return {"name": "t", "nodes": nodes, "edges": edges or [], **extra}


def test_valid_workflow_gives_a_plan_in_topological_order(registry):
    data = wf([{"id": "b", "block": "echo"}, {"id": "a", "block_id": "echo", "config": {"text": "x"}}],
              [{"from": "a", "to": "b"}])
    plan = validate(parse_workflow(data), registry)
    assert plan.order == ["a", "b"]
    wire = plan.nodes["b"].incoming[0]
    assert (wire.source_port, wire.target_port) == ("text", "text")  # default ports of echo


def test_unknown_block_suggests_closest(registry):
    errors = errors_of(wf([{"id": "n", "block": "ecko", "config": {}}]), registry)
    assert len(errors) == 1
    assert "unknown block 'ecko'" in errors[0] and "did you mean echo" in errors[0]


def test_bad_config_gives_field_path_and_unknown_key_suggestion(registry):
    errors = errors_of(wf([
        {"id": "a", "block": "noop"},
        {"id": "b", "block": "noop"},
        {"id": "s", "block": "sleep", "config": {"seconds": "soon", "valeu": 1}},
    ]), registry)
    assert "nodes[2].config.seconds: Input should be a valid number, unable to parse string as a number" in errors
    assert any(e.startswith("nodes[2].config.valeu: unknown field") and "did you mean 'value'" in e for e in errors)


def test_config_may_omit_fields_fed_by_edges(registry):
    data = wf([{"id": "a", "block": "echo", "config": {"text": "x"}}, {"id": "b", "block": "add", "config": {"b": 1}}],
              [{"from": "a", "from_output": "length", "to": "b", "to_input": "a"}])
    assert validate(parse_workflow(data), registry).nodes["b"].incoming


def test_unknown_ports_list_valid_ones(registry):
    errors = errors_of(wf([{"id": "a", "block": "echo", "config": {"text": "x"}}, {"id": "b", "block": "echo"}],
                          [{"from": "a", "to": "b", "from_output": "uper", "to_input": "txt"}]), registry)
    assert any("has no output 'uper'" in e and "did you mean 'upper'" in e and "outputs: text, upper, length" in e
               for e in errors)
    assert any("has no input 'txt'" in e and "inputs: text, prefix" in e for e in errors)


def test_edges_to_unknown_nodes_and_duplicate_ids(registry):
    errors = errors_of(wf([{"id": "a", "block": "noop"}, {"id": "a", "block": "noop"}],
                          [{"from": "a", "to": "ghost"}, {"from": "trigger", "to": "a"}]), registry)
    assert any("duplicate node id 'a'" in e for e in errors)
    assert any("edges[0].to: unknown node 'ghost'" in e for e in errors)
    # "trigger" is a pseudo-node only when the workflow has a trigger
    assert any("edges[1].from: unknown node 'trigger'" in e and "need a top-level trigger" in e for e in errors)


def test_trigger_pseudo_node_edges_are_accepted_and_carry_no_data(registry):
    data = wf([{"id": "a", "block": "noop"}], [{"from": "trigger", "to": "a"}],
              trigger={"type": "schedule", "config": {"interval": "0 */6 * * *", "timezone": "Asia/Shanghai"}})
    plan = validate(parse_workflow(data), registry)
    assert plan.nodes["a"].incoming == []


def test_cycle_names_the_nodes_on_it(registry):
    errors = errors_of(wf([{"id": x, "block": "noop"} for x in "abcd"],
                          [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"},
                           {"from": "c", "to": "d"}]), registry)
    cycle = [e for e in errors if e.startswith("cycle:")]
    rotations = ("cycle: a -> b -> c -> a", "cycle: b -> c -> a -> b", "cycle: c -> a -> b -> c")
    assert cycle and cycle[0].startswith(rotations)


def test_find_cycle_handles_long_chains_without_recursion():
    children = {str(i): [str(i + 1)] for i in range(5000)}
    children["5000"] = []
    assert find_cycle(children) is None
    children["5000"] = ["0"]
    assert find_cycle(children)[0] == find_cycle(children)[-1]


def test_missing_required_input_and_input_overrides(registry):
    data = wf([{"id": "e", "block": "echo"}])
    errors = errors_of(data, registry)
    assert len(errors) == 1 and "missing required input 'text'" in errors[0] and "--input e.text=VALUE" in errors[0]
    plan = validate(parse_workflow(data), registry, split_inputs(["e.text=hello"], parse_workflow(data)))
    assert plan.nodes["e"].config == {"text": "hello"}
    errors = errors_of(data, registry, ["e.txt=1"])
    assert any("--input e.txt: unknown field (did you mean 'text'?)" in e for e in errors)


def test_bare_inputs_parse_json_else_text(registry):
    workflow = parse_workflow(wf([{"id": "a", "block": "noop"}]))
    inputs = split_inputs(["n=3", "tags=[1, 2]", "name=Ada", "a.value={\"k\": true}"], workflow)
    assert inputs.values == {"n": 3, "tags": [1, 2], "name": "Ada"}
    assert inputs.overrides == {"a": {"value": {"k": True}}}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        split_inputs(["oops"], workflow)


def test_inputs_naming_an_unknown_node_or_input_are_errors_with_a_suggestion(registry):
    from forge.blocks.io import UserInput

    registry.register(UserInput)
    data = wf([{"id": "echo1", "block": "echo", "config": {"text": "x"}},
               {"id": "ask", "block": "user_input", "config": {"name": "topic"}}])
    workflow = parse_workflow(data)
    plan = validate(workflow, registry, split_inputs(["topic=cats", "echo1.prefix=>"], workflow))
    assert plan.inputs == {"topic": "cats"} and plan.nodes["echo1"].config["prefix"] == ">"
    errors = errors_of(data, registry, ["echo2.prefix=>", "topik=cats"])
    assert len(errors) == 2
    assert "--input echo2.prefix: unknown node 'echo2' (did you mean 'echo1'?)" in errors[0]
    assert "--input topik: no node reads an input named 'topik' (did you mean 'topic'?); inputs: topic" in errors[1]
    lone = errors_of(wf([{"id": "a", "block": "noop"}]), registry, ["city=Paris"])
    assert lone and "this workflow has no user_input block" in lone[0] and "NODE.FIELD=VALUE" in lone[0]


def test_bad_cron_explains_the_seed_example(registry):
    trigger = {"type": "schedule", "config": {"interval": "*/360 * * * *", "timezone": "Mars/Base"}}
    errors = errors_of(wf([{"id": "a", "block": "noop"}], trigger=trigger), registry)
    cron = [e for e in errors if e.startswith("trigger.config.interval")]
    assert cron and "minute field is 0-59" in cron[0] and "0 */6 * * *" in cron[0]
    assert any("unknown timezone 'Mars/Base'" in e for e in errors)


@pytest.mark.parametrize("expr, ok", [("0 */6 * * *", True), ("* * * * * *", True), ("*/5 * * * * *", True),
                                      ("61 * * * *", False), ("* * *", False), ("0 25 * * *", False)])
def test_cron_problem(expr, ok):
    assert (cron_problem(expr) is None) is ok


def test_all_errors_are_collected_together(registry):
    errors = errors_of(wf([{"id": "a", "block": "nope"}, {"id": "b", "block": "echo"}],
                          [{"from": "b", "to": "zz"}]), registry)
    assert len(errors) == 3  # unknown block, unknown node, missing input


def test_load_workflow_reports_bad_json_with_line_and_column(tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{\n  "name": "x",\n  "nodes": [,]\n}')
    with pytest.raises(ConfigError, match=r"line 3 column 13"):
        load_workflow(path)
    with pytest.raises(ConfigError, match="not found"):
        load_workflow(tmp_path / "missing.json")
    path.write_text(json.dumps({"name": "x", "nodes": [{"id": "a"}]}))
    workflow = load_workflow(path)  # structural problems are kept for validate(), which reports them all
    assert workflow.problems and workflow.problems[0].startswith("nodes[0].block_id: missing")
    with pytest.raises(WorkflowValidationError, match=r"nodes\[0\].block_id: missing"):
        validate(workflow, BlockRegistry(TEST_BLOCKS))


def test_bad_timeout_and_retry_are_reported_with_every_other_problem(registry):
    """A bad timeout or retry used to stop parsing and hide everything else."""
    data = wf([
        {"id": "a", "block": "noop", "timeout": -1, "retry": {"count": 2.5, "backoff": "soon"}},
        {"id": "b", "block": "nope"},
        {"id": "c", "block": "sleep", "config": {"seconds": "soon"}, "retry": 3},
        {"id": "d", "block": "echo", "timeout": "fast"},
        {"id": "e"},
        {"id": "x", "block": "noop"}, {"id": "y", "block": "noop"},
    ], [{"from": "x", "to": "y"}, {"from": "y", "to": "x"}, {"from": "a", "to": "e"}])
    errors = errors_of(data, registry)
    expected = [
        "nodes[0].timeout: must be a number >= 0, got -1",
        "nodes[0].retry.count: must be a whole number >= 0 and <= 100, got 2.5",
        'nodes[0].retry.backoff: must be a number >= 0, got "soon"',
        'nodes[2].retry: must be an object like {"count": 3, "backoff": 1}',
        'nodes[3].timeout: must be a number >= 0, got "fast"',
        "nodes[4].block_id: missing on node 'e'",
        "nodes[1].block_id: unknown block 'nope'",
        "cycle: ",
        "nodes[2].config.seconds: Input should be a valid number",
        "nodes[3]: node 'd' (echo) is missing required input 'text'",
    ]
    for start in expected:
        assert sum(e.startswith(start) for e in errors) == 1, (start, errors)
    assert len(errors) == len(expected), errors  # nothing twice, nothing made up (edges to 'e' are fine)


@pytest.mark.parametrize("raw", ['{"name": "t", "nodes": [{"id": "a", "block": "noop", "timeout": NaN}]}',
                                 '{"name": "t", "nodes": [{"id": "a", "block": "noop", "timeout": Infinity}]}',
                                 '{"name": "t", "nodes": [{"id": "a", "block": "noop", "retry": {"count": 1e9}}]}'])
def test_non_finite_or_huge_retry_values_are_refused(registry, raw):
    errors = errors_of(json.loads(raw), registry)
    assert len(errors) == 1 and errors[0].startswith(("nodes[0].timeout: must be", "nodes[0].retry.count: must be"))
