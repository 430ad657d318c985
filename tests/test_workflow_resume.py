"""`autogpt workflow resume RUN_ID [FILE] [-i ...]` and the JSON lines of run/resume, through the real CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from test_workflow_cli import BLOCKS_FILE, cli, common, write


@pytest.fixture
def env(tmp_path):
    (tmp_path / "blocks").mkdir()
    (tmp_path / "blocks" / "mine.py").write_text(BLOCKS_FILE)
    return tmp_path


def flow(counter: Path) -> dict:
    def counted(key: str, **config: object) -> dict:
        return {"id": key, "block": "flaky", "config": {"key": key, "failures": 0, "counter_file": str(counter),
                                                        **config}}
    return {"name": "fixable", "nodes": [
        counted("a", value=1),
        counted("b"),
        {"id": "c", "block": "fail", "config": {"message": "boom"}},
        counted("after"),
        counted("d", value="old"),
    ], "edges": [
        {"from": "a", "to": "b", "to_input": "value"},
        {"from": "b", "to": "c", "to_input": "value"},
        {"from": "c", "to": "after", "to_input": "value"},
    ]}


def lines_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def events(env: Path, run_id: str) -> list[dict]:
    return lines_of((env / "ws" / "workflows" / "runs" / run_id / "events.jsonl").read_text())


def test_json_lines_carry_events_then_run_id_status_and_node_errors(env):
    counter = env / "count.json"
    res = cli(env, "run", write(env, flow(counter)), "--json", *common(env))
    assert res.returncode == 1
    lines = lines_of(res.stdout)
    assert lines[0]["type"] == "run_started" and lines[-1]["type"] == "result"
    assert [e["type"] for e in lines[:-1]] == [e["type"] for e in events(env, lines[0]["run_id"])]  # the log, live
    result = lines[-1]
    assert result["run_id"] == lines[0]["run_id"] and result["status"] == "failed"
    assert result["nodes"]["c"]["status"] == "failed" and result["nodes"]["c"]["error"] == "RuntimeError: boom"
    assert result["nodes"]["after"] == {**result["nodes"]["after"], "status": "upstream_failed",
                                        "error": "upstream c failed"}
    assert result["outputs"]["a"] == {"value": 1, "attempts": 1} and "c" not in result["outputs"]


def test_resume_with_a_corrected_file_reruns_changed_nodes_and_downstream_only(env):
    counter = env / "count.json"
    broken = flow(counter)
    first = lines_of(cli(env, "run", write(env, broken), "--json", *common(env)).stdout)[-1]
    run_id = first["run_id"]
    assert json.loads(counter.read_text()) == {"a": 1, "b": 1, "d": 1}

    fixed = copy.deepcopy(broken)
    fixed["nodes"][2] = {"id": "c", "block": "noop"}  # the cause, fixed in the file
    fixed["nodes"][4]["config"]["value"] = "new"  # a completed node whose definition changed
    res = cli(env, "resume", run_id, write(env, fixed, "fixed.json"), "--json", *common(env))
    assert res.returncode == 0, res.stderr
    result = lines_of(res.stdout)[-1]
    assert result["run_id"] == run_id and result["status"] == "completed"
    assert json.loads(counter.read_text()) == {"a": 1, "b": 1, "d": 2, "after": 1}  # a and b kept their outputs
    assert result["nodes"]["a"]["replayed"] and not result["nodes"]["d"]["replayed"]
    assert result["outputs"]["after"]["value"] == 1 and result["outputs"]["d"]["value"] == "new"
    resumed = [e for e in events(env, run_id) if e["type"] == "resumed"][-1]
    assert sorted(resumed["changed"]) == ["c", "d"] and resumed["file"] == "fixed.json"
    assert sorted(resumed["replayed"]) == ["a", "b"]
    copy_now = json.loads((env / "ws" / "workflows" / "runs" / run_id / "workflow.json").read_text())
    assert copy_now["nodes"][2]["block"] == "noop"  # a later resume starts from the corrected workflow

    # -i on resume: the overridden node and its downstream re-run, the rest is replayed.
    res = cli(env, "resume", run_id, "-i", "b.key=b2", "--json", *common(env))
    assert res.returncode == 0, res.stderr
    assert json.loads(counter.read_text()) == {"a": 1, "b": 1, "b2": 1, "d": 2, "after": 2}
    assert lines_of(res.stdout)[-1]["outputs"]["b"] == {"value": 1, "attempts": 1}
    again = cli(env, "resume", run_id, *common(env))
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_resume_refuses_bad_or_unrelated_files_and_inputs_before_touching_the_run(env):
    counter = env / "count.json"
    run_id = lines_of(cli(env, "run", write(env, flow(counter)), "--json", *common(env)).stdout)[-1]["run_id"]
    before = len(events(env, run_id))
    typo = cli(env, "resume", run_id, "-i", "dd.value=1", *common(env))
    assert typo.returncode == 2 and "unknown node 'dd' (did you mean 'd'?)" in typo.stderr
    invalid = copy.deepcopy(flow(counter))
    invalid["nodes"][2]["block"] = "nope"
    bad = cli(env, "resume", run_id, write(env, invalid, "bad.json"), *common(env))
    assert bad.returncode == 2 and "unknown block 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    other = {"name": "other", "nodes": [{"id": "x", "block": "noop"}], "edges": []}
    unrelated = cli(env, "resume", run_id, write(env, other, "other.json"), *common(env))
    assert unrelated.returncode != 0 and "shares no node id" in unrelated.stderr
    assert "Traceback" not in unrelated.stderr
    assert len(events(env, run_id)) == before  # nothing was appended to the run


def test_cache_clear_by_workflow_or_all_shows_what_it_removed(env):
    counter = env / "count.json"

    def cached(name: str) -> str:
        data = {"name": name, "nodes": [{"id": "n", "block": "flaky", "config": {
            "key": name, "failures": 0, "counter_file": str(counter)}}], "edges": []}
        return write(env, data, f"{name}.json")

    for name in ("alpha", "beta", "alpha"):
        assert cli(env, "run", cached(name), "--cache", *common(env)).returncode == 0
    assert json.loads(counter.read_text()) == {"alpha": 1, "beta": 1}  # the second alpha was a cache hit
    assert cli(env, "cache", "clear", *common(env)[2:]).returncode == 2  # neither --workflow nor --all

    res = cli(env, "cache", "clear", "--workflow", "alpha.json", *common(env)[2:])
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "Removed 1 cache entries of workflow 'alpha'" in out and "flaky" in out and "beta" not in out
    assert cli(env, "run", "alpha.json", "--cache", *common(env)).returncode == 0
    assert cli(env, "run", "beta.json", "--cache", *common(env)).returncode == 0
    assert json.loads(counter.read_text()) == {"alpha": 2, "beta": 1}  # alpha recomputed, beta still cached

    res = cli(env, "cache", "clear", "--all", "--json", *common(env)[2:])
    report = json.loads(res.stdout)
    assert report["removed"] == 2 and {e["workflow"] for e in report["entries"]} == {"alpha", "beta"}
    again = cli(env, "cache", "clear", "--all", *common(env)[2:])
    assert again.returncode == 0 and "nothing removed" in again.stdout
