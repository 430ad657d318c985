"""The DAG engine with the shipped test blocks: parallelism, routing, skips, retries, timeouts,
partial failure, resume, cache, and the persisted event log."""

from __future__ import annotations

import asyncio
import json

import pytest

from forge.blocks import testing
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialsMissingError
from forge.blocks.registry import BlockRegistry
from forge.blocks.testing import TEST_BLOCKS
from forge.runs.log import read_events, read_state
from forge.workflow.model import parse_workflow
from forge.workflow.runs import list_workflow_runs, resume_workflow, run_workflow, runs_dir


class NeedsKey(Block):
    id = "needs_key"
    description = "Fails like a block whose credentials are missing."

    async def run(self, input, ctx: BlockContext):  # noqa: A002
        raise CredentialsMissingError("slack", ("token",))
        yield "x", None  # pragma: no cover


class Leaky(Block):
    id = "leaky"

    async def run(self, input, ctx: BlockContext):  # noqa: A002
        yield "value", "token is s3cr3t-value-123"


@pytest.fixture
def registry() -> BlockRegistry:
    testing.CALLS.clear()
    return BlockRegistry([*TEST_BLOCKS, NeedsKey, Leaky])


def run(settings, registry, nodes, edges=(), **kwargs):
    workflow = parse_workflow({"name": "test", "nodes": nodes, "edges": list(edges)})
    return asyncio.run(run_workflow(workflow, registry, settings, **kwargs))


def events(settings, run_id):
    return list(read_events(runs_dir(settings) / run_id))


def test_data_flows_through_named_ports_and_edge_value_wins_over_config(settings, registry):
    result = run(settings, registry, [
        {"id": "src", "block": "echo", "config": {"text": "ab", "prefix": ">"}},
        {"id": "sum", "block": "add", "config": {"a": 100, "b": 1}},
    ], [{"from": "src", "from_output": "length", "to": "sum", "to_input": "a"}])
    assert result.status == "completed"
    assert result.outputs()["sum"] == {"sum": 4.0}  # len(">ab") + 1: the edge replaced config a=100
    assert result.outputs()["src"] == {"text": ">ab", "upper": ">AB", "length": 3}


def test_several_live_edges_into_one_port_deliver_a_list_in_edge_order(settings, registry):
    result = run(settings, registry, [
        {"id": "a", "block": "echo", "config": {"text": "first"}},
        {"id": "b", "block": "echo", "config": {"text": "second"}},
        {"id": "join", "block": "noop"},
    ], [{"from": "b", "to": "join", "to_input": "value"}, {"from": "a", "to": "join", "to_input": "value"}])
    assert result.status == "completed"
    assert result.outputs()["join"] == {"value": ["second", "first"]}


def test_independent_branches_run_in_parallel(settings, registry):
    nodes = [{"id": f"s{i}", "block": "sleep", "config": {"seconds": 0.3}} for i in range(3)]
    result = run(settings, registry, nodes)
    spans = [(o["started"], o["finished"]) for o in result.outputs().values()]
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # all three overlapped


def test_concurrency_limit_is_respected(settings, registry):
    nodes = [{"id": f"s{i}", "block": "sleep", "config": {"seconds": 0.15}} for i in range(4)]
    spans = sorted((o["started"], o["finished"]) for o in run(settings, registry, nodes, concurrency=2)
                   .outputs().values())
    # with 2 slots the 3rd node starts only after one of the first two has finished
    assert spans[2][0] >= min(spans[0][1], spans[1][1]) - 0.01


def test_streamed_values_are_all_recorded_and_downstream_gets_the_last(settings, registry):
    result = run(settings, registry, [
        {"id": "many", "block": "emit_many", "config": {"count": 4, "prefix": "x"}},
        {"id": "last", "block": "echo"},
    ], [{"from": "many", "from_output": "item", "to": "last", "to_input": "text"}])
    assert result.outputs()["last"]["text"] == "x-3"
    streamed = [e["value"] for e in events(settings, result.run_id)
                if e["type"] == "node_output" and e["node"] == "many" and e["output"] == "item"]
    assert streamed == ["x-0", "x-1", "x-2", "x-3"]


def test_branch_routing_skips_the_untaken_side_and_a_join_still_runs(settings, registry):
    result = run(settings, registry, [
        {"id": "br", "block": "branch", "config": {"value": "v", "take": False}},
        {"id": "yes", "block": "noop"},
        {"id": "yes2", "block": "noop"},
        {"id": "no", "block": "echo"},
        {"id": "join", "block": "noop"},
    ], [
        {"from": "br", "from_output": "true", "to": "yes"},
        {"from": "yes", "to": "yes2"},
        {"from": "br", "from_output": "false", "to": "no", "to_input": "text"},
        {"from": "yes2", "to": "join"},
        {"from": "no", "to": "join", "from_output": "upper", "to_input": "value"},
    ])
    status = {nid: r.status for nid, r in result.nodes.items()}
    assert status == {"br": "completed", "yes": "skipped", "yes2": "skipped", "no": "completed", "join": "completed"}
    assert result.status == "completed"
    assert result.outputs()["join"] == {"value": "V"}
    assert testing.CALLS["yes"] == 0 and testing.CALLS["yes2"] == 0
    skipped = {e["node"]: e["reason"] for e in events(settings, result.run_id) if e["type"] == "node_skipped"}
    assert "br did not emit 'true'" in skipped["yes"] and "yes skipped" in skipped["yes2"]


def test_join_skips_when_its_required_input_came_only_from_the_dead_branch(settings, registry):
    result = run(settings, registry, [
        {"id": "br", "block": "branch", "config": {"value": "v", "take": True}},
        {"id": "side", "block": "noop", "config": {"value": "s"}},
        {"id": "join", "block": "echo"},
    ], [{"from": "br", "from_output": "false", "to": "join", "to_input": "text"},
        {"from": "side", "to": "join", "to_input": "prefix"}])
    assert result.nodes["join"].status == "skipped"
    assert "required input 'text'" in result.nodes["join"].error


def test_retry_then_success_with_backoff(settings, registry):
    result = run(settings, registry, [
        {"id": "f", "block": "flaky", "config": {"key": "retry-ok", "failures": 2, "value": 7},
         "retry": {"count": 2, "backoff": 0.01}},
    ])
    assert result.status == "completed"
    assert result.outputs()["f"] == {"attempts": 3, "value": 7}
    log = events(settings, result.run_id)
    assert [e["delay_s"] for e in log if e["type"] == "node_retry"] == [0.01, 0.02]  # backoff * 2**attempt
    assert [e["attempt"] for e in log if e["type"] == "node_started"] == [1, 2, 3]


def test_retries_exhausted_fail_the_node(settings, registry):
    result = run(settings, registry, [
        {"id": "f", "block": "flaky", "config": {"key": "retry-bad", "failures": 5}, "retry": {"count": 1}},
    ])
    assert result.status == "failed" and result.nodes["f"].attempts == 2
    assert "attempt 2 of 6 fails on purpose" in result.nodes["f"].error


def test_timeout_fails_the_node_with_a_clear_message(settings, registry):
    result = run(settings, registry, [{"id": "slow", "block": "sleep", "config": {"seconds": 5}, "timeout": 0.1}])
    node = result.nodes["slow"]
    assert node.status == "failed" and node.duration_s < 2
    assert node.error.startswith("timed out after 0.1s")


def test_partial_failure_stops_only_descendants(settings, registry):
    result = run(settings, registry, [
        {"id": "bad", "block": "fail", "config": {"message": "kaput"}},
        {"id": "child", "block": "noop"},
        {"id": "grandchild", "block": "noop"},
        {"id": "ok", "block": "sleep", "config": {"seconds": 0.05, "value": 1}},
        {"id": "ok2", "block": "noop"},
    ], [{"from": "bad", "to": "child"}, {"from": "child", "to": "grandchild"}, {"from": "ok", "to": "ok2"}])
    status = {nid: r.status for nid, r in result.nodes.items()}
    assert status == {"bad": "failed", "ok": "completed", "child": "upstream_failed",
                      "grandchild": "upstream_failed", "ok2": "completed"}
    assert result.status == "failed"
    assert result.nodes["bad"].error == "RuntimeError: kaput"
    assert result.outputs()["ok2"] == {"value": 1}
    finished = events(settings, result.run_id)[-1]
    assert finished["type"] == "finished" and finished["counts"]["upstream_failed"] == 2


def test_config_errors_from_blocks_fail_the_node_with_their_message(settings, registry):
    result = run(settings, registry, [{"id": "k", "block": "needs_key", "retry": {"count": 3, "backoff": 5}}])
    node = result.nodes["k"]
    assert node.status == "failed" and node.attempts == 1  # not retried: retrying cannot add credentials
    assert node.error.startswith("missing credentials for slack")


def test_runtime_input_validation_failure_names_the_field(settings, registry):
    result = run(settings, registry, [
        {"id": "src", "block": "echo", "config": {"text": "abc"}},
        {"id": "s", "block": "sleep"},
        {"id": "neg", "block": "add", "config": {"a": -5}},
        {"id": "s2", "block": "sleep"},
    ], [{"from": "src", "to": "s", "to_input": "seconds"},  # "abc" is not a number: no conversion
        {"from": "neg", "to": "s2", "to_input": "seconds"}])  # converts, then fails the field's ge=0
    assert result.nodes["s"].status == "failed"
    assert result.nodes["s"].error.startswith('edge src.text -> s.seconds: cannot convert string "abc" to number')
    assert result.nodes["s2"].status == "failed"
    assert "input.seconds: Input should be greater than or equal to 0" in result.nodes["s2"].error


def test_events_state_and_workflow_copy_are_persisted(settings, registry):
    result = run(settings, registry, [{"id": "a", "block": "echo", "config": {"text": "hi"}}],
                 inputs=["a.prefix=>"], source="demo.json")
    run_dir = runs_dir(settings) / result.run_id
    kinds = [e["type"] for e in read_events(run_dir)]
    assert kinds == ["run_started", "node_started", "node_output", "node_output", "node_output",
                     "node_finished", "finished"]
    started = next(read_events(run_dir))
    assert started["workflow"] == "test" and started["file"] == "demo.json" and started["inputs"] == {"a.prefix": ">"}
    state = read_state(run_dir)
    assert state["status"] == "completed" and state["pid"] and state["nodes"]["a"]["outputs"]["upper"] == ">HI"
    assert json.loads((run_dir / "workflow.json").read_text())["nodes"][0]["id"] == "a"
    assert [r["run_id"] for r in list_workflow_runs(settings)] == [result.run_id]


def test_secrets_from_the_credentials_store_are_redacted(settings, registry):
    from forge.blocks.credentials import CredentialStore

    CredentialStore.for_workspace(settings.workspace).set("demo", {"token": "s3cr3t-value-123"})
    result = run(settings, registry, [{"id": "l", "block": "leaky"}])
    run_dir = runs_dir(settings) / result.run_id
    text = (run_dir / "events.jsonl").read_text() + (run_dir / "state.json").read_text()
    assert "s3cr3t-value-123" not in text and "token is" in text


def test_run_inputs_reach_blocks_via_ctx_extras(settings, registry):
    seen = {}

    class Peek(Block):
        id = "peek"

        @classmethod
        def run_input_names(cls, config):
            return ["city", "n"]  # bare --input names a block reads must be declared, or they are typos

        async def run(self, input, ctx: BlockContext):  # noqa: A002
            seen.update(ctx.extras["inputs"])
            seen["workspace"] = ctx.workspace
            yield "x", 1

    registry.register(Peek)
    run(settings, registry, [{"id": "p", "block": "peek"}], inputs=["city=Paris", "n=2"])
    assert seen["city"] == "Paris" and seen["n"] == 2
    assert seen["workspace"] == settings.workflows_dir() / "files" and seen["workspace"].is_dir()


def test_resume_reruns_only_what_did_not_complete(settings, registry, tmp_path):
    counter = str(tmp_path / "flaky.json")
    nodes = [
        {"id": "first", "block": "echo", "config": {"text": "a"}},
        {"id": "flaky", "block": "flaky", "config": {"key": "resume", "failures": 1, "counter_file": counter}},
        {"id": "after", "block": "echo"},
        {"id": "side", "block": "noop", "config": {"value": 2}},
    ]
    edges = [{"from": "first", "to": "flaky", "to_input": "value"},
             {"from": "flaky", "to": "after", "to_input": "text"}]
    first = run(settings, registry, nodes, edges)
    assert first.status == "failed" and first.nodes["after"].status == "upstream_failed"
    before = dict(testing.CALLS)

    resumed = asyncio.run(resume_workflow(first.run_id, registry, settings))
    assert resumed.run_id == first.run_id and resumed.status == "completed"
    assert testing.CALLS["first"] == before["first"] == 1  # replayed from the log, not executed
    assert testing.CALLS["side"] == 1
    assert testing.CALLS["flaky"] == 2 and testing.CALLS["after"] == 1
    assert resumed.outputs()["after"]["text"] == "a" and resumed.nodes["first"].replayed
    kinds = [e["type"] for e in events(settings, first.run_id)]
    assert kinds.count("run_started") == 1 and kinds.count("resumed") == 1 and kinds.count("finished") == 2
    assert read_state(runs_dir(settings) / first.run_id)["status"] == "completed"

    from forge.errors import RunError

    with pytest.raises(RunError, match="nothing to resume"):
        asyncio.run(resume_workflow(first.run_id, registry, settings))
    with pytest.raises(RunError, match="no workflow run 'nope'"):
        asyncio.run(resume_workflow("nope", registry, settings))


def test_killed_run_reads_as_interrupted_and_resumes(settings, registry):
    result = run(settings, registry, [{"id": "a", "block": "noop"}, {"id": "b", "block": "fail"}])
    run_dir = runs_dir(settings) / result.run_id
    state = json.loads((run_dir / "state.json").read_text())
    state.update(status="running", pid=2**22 + 12345)  # as if the process was killed mid-run
    (run_dir / "state.json").write_text(json.dumps(state))
    assert read_state(run_dir)["status"] == "interrupted"
    registry.register(type("Fail", (testing.Noop,), {"id": "fail"}))  # "fixed" block
    resumed = asyncio.run(resume_workflow(result.run_id, registry, settings))
    assert resumed.status == "completed" and testing.CALLS["a"] == 1


def test_cache_hit_skips_execution_and_marks_the_event(settings, registry):
    nodes = [{"id": "e", "block": "echo", "config": {"text": "cached"}}, {"id": "c", "block": "clock"}]
    first = run(settings, registry, nodes, cache=True)
    second = run(settings, registry, nodes, cache=True)
    assert testing.CALLS["e"] == 1  # the second run served echo from the cache
    assert testing.CALLS["c"] == 2  # clock is cacheable=False: always executed
    assert second.outputs()["e"] == first.outputs()["e"]
    finished = {e["node"]: e for e in events(settings, second.run_id) if e["type"] == "node_finished"}
    assert finished["e"]["cached"] is True and finished["c"]["cached"] is False
    assert list((settings.workflows_dir() / "cache").rglob("*.json"))
    run(settings, registry, [{"id": "e", "block": "echo", "config": {"text": "other"}}], cache=True)
    assert testing.CALLS["e"] == 2  # a different input is a different key
    run(settings, registry, nodes)
    assert testing.CALLS["e"] == 3  # without --cache nothing is reused


def test_invalid_workflow_creates_no_run(settings, registry):
    from forge.workflow.model import WorkflowValidationError

    with pytest.raises(WorkflowValidationError):
        run(settings, registry, [{"id": "a", "block": "nope"}])
    assert list_workflow_runs(settings) == []
