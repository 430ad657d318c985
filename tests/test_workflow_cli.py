"""`autogpt workflow ...` through the real CLI in a subprocess, with test blocks from --blocks-dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AUTOGPT = str(Path(sys.executable).parent / "autogpt")

BLOCKS_FILE = '''
from typing import Any

from pydantic import BaseModel

from forge.blocks.base import Block
from forge.blocks.testing import *  # noqa: F403
from forge.blocks.testing import __all__ as _testing

__all__ = [*_testing, "Shout"]


class Shout(Block):
    """A user's own block, defined only in this folder."""

    id = "shout"
    description = "Upper-case and add bangs."

    class Input(BaseModel):
        text: str
        bangs: int = 1

    class Output(BaseModel):
        text: str

    async def run(self, input: Any, ctx):
        yield "text", input.text.upper() + "!" * input.bangs
'''


@pytest.fixture
def env(tmp_path):
    blocks = tmp_path / "blocks"
    blocks.mkdir()
    (blocks / "mine.py").write_text(BLOCKS_FILE)
    return tmp_path


def cli(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    return subprocess.run(
        [AUTOGPT, "workflow", *args], capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=timeout,
    )


def write(tmp_path: Path, data: dict, name: str = "wf.json") -> str:
    (tmp_path / name).write_text(json.dumps(data))
    return name


def outputs_of(stdout: str) -> dict:
    """`run/resume --json` prints JSON lines: the events, then the result; its `outputs` are {node: {port: value}}."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert lines and lines[-1]["type"] == "result" and all("type" in line for line in lines)
    return lines[-1]["outputs"]


def common(tmp_path: Path) -> list[str]:
    return ["--blocks-dir", str(tmp_path / "blocks"), "--workspace", str(tmp_path / "ws")]


GOOD = {
    "name": "demo",
    "trigger": {"type": "schedule", "config": {"interval": "0 */6 * * *", "timezone": "Asia/Shanghai"}},
    "nodes": [
        {"id": "start", "block_id": "echo", "config": {"text": "hello"}},
        {"id": "loud", "block": "shout", "config": {"bangs": 2}},
        {"id": "many", "block": "emit_many", "config": {"count": 2}},
    ],
    "edges": [{"from": "trigger", "to": "start"}, {"from": "start", "to": "loud"}],
}


def test_validate_exit_codes(env):
    ok = cli(env, "validate", write(env, GOOD), "--blocks-dir", str(env / "blocks"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "valid: 3 nodes, 2 edges (1 from the trigger)"

    bad = dict(GOOD, trigger={"type": "schedule", "config": {"interval": "*/360 * * * *"}},
               nodes=[*GOOD["nodes"], {"id": "x", "block": "shoutt"}])
    res = cli(env, "validate", write(env, bad, "bad.json"), "--blocks-dir", str(env / "blocks"))
    assert res.returncode == 2
    assert "unknown block 'shoutt'" in res.stderr and "did you mean shout" in res.stderr
    assert "minute field is 0-59" in res.stderr and "Traceback" not in res.stderr

    (env / "broken.json").write_text('{"name": "x",\n "nodes": [}')
    res = cli(env, "validate", "broken.json")
    assert res.returncode == 2 and "invalid JSON at line 2 column" in res.stderr
    res = cli(env, "validate", "missing.json")
    assert res.returncode == 2 and "not found" in res.stderr


def test_run_json_prints_only_the_outputs_object(env):
    res = cli(env, "run", write(env, GOOD), "--json", *common(env))
    assert res.returncode == 0, res.stderr
    out = outputs_of(res.stdout)  # stdout is JSON lines only
    assert out == {
        "start": {"text": "hello", "upper": "HELLO", "length": 5},
        "loud": {"text": "HELLO!!"},  # the custom block from --blocks-dir ran
        "many": {"item": "item-1", "count": 2},
    }


def test_run_with_inputs_and_partial_failure_exits_1_then_runs_lists_it(env):
    data = {"name": "partial", "nodes": [
        {"id": "ok", "block": "echo"},
        {"id": "bad", "block": "fail"},
        {"id": "after", "block": "noop"},
    ], "edges": [{"from": "bad", "to": "after"}]}
    res = cli(env, "run", write(env, data), "--input", "ok.text=from-cli", *common(env))
    assert res.returncode == 1, res.stderr
    assert "upstream_failed" in res.stdout and "autogpt workflow resume" in res.stdout
    res_json = cli(env, "run", "wf.json", "-i", "ok.text=x", "--json", *common(env))
    assert res_json.returncode == 1 and outputs_of(res_json.stdout) == {"ok": {"text": "x", "upper": "X", "length": 1}}

    listing = cli(env, "runs", "--json", "--workspace", str(env / "ws"))
    runs = json.loads(listing.stdout)
    assert len(runs) == 2 and {r["status"] for r in runs} == {"failed"}
    assert runs[0]["workflow"] == "partial" and runs[0]["counts"]["upstream_failed"] == 1
    table = cli(env, "runs", "--workspace", str(env / "ws"))
    assert runs[0]["run_id"] in table.stdout and "partial" in table.stdout


def test_resume_via_cli(env):
    counter = env / "count.json"
    data = {"name": "resumable", "nodes": [
        {"id": "f", "block": "flaky", "config": {"key": "k", "failures": 1, "counter_file": str(counter), "value": 5}},
        {"id": "g", "block": "noop"},
    ], "edges": [{"from": "f", "to": "g"}]}
    first = cli(env, "run", write(env, data), "--json", *common(env))
    assert first.returncode == 1
    run_id = json.loads(cli(env, "runs", "--json", "--workspace", str(env / "ws")).stdout)[0]["run_id"]
    res = cli(env, "resume", run_id, "--json", *common(env))
    assert res.returncode == 0, res.stderr
    assert outputs_of(res.stdout) == {"f": {"attempts": 2, "value": 5}, "g": {"value": 5}}
    assert json.loads(counter.read_text()) == {"k": 2}  # executed once per invocation, no more
    assert cli(env, "resume", "nope", *common(env)).returncode == 2


def test_graph_prints_mermaid_and_writes_offline_html_and_svg(env):
    data = dict(GOOD, edges=[*GOOD["edges"], {"from": "start", "from_output": "length", "to": "many",
                                              "to_input": "count"}])
    name = write(env, data)
    res = cli(env, "graph", name, "--blocks-dir", str(env / "blocks"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "graph LR"
    assert '    start["start<br/>echo"]' in lines and "    start --> loud" in lines
    assert '    start -->|"length → count"| many' in lines  # non-default ports are labelled

    res = cli(env, "graph", name, "--out", "g.html", "--blocks-dir", str(env / "blocks"))
    assert res.returncode == 0, res.stderr
    page = (env / "g.html").read_text()
    assert "<svg" in page and page.count('class="node"') == 4  # 3 nodes + the trigger
    assert "graph LR" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")  # no CDN
    assert cli(env, "graph", name, "-o", "g.svg").returncode == 0
    assert (env / "g.svg").read_text().startswith("<svg")
    assert cli(env, "graph", name, "-o", "g.png").returncode == 2


def test_graph_colours_nodes_by_run_status(env):
    data = {"name": "c", "nodes": [{"id": "a", "block": "noop"}, {"id": "b", "block": "fail"}]}
    cli(env, "run", write(env, data), *common(env))
    run_id = json.loads(cli(env, "runs", "--json", "--workspace", str(env / "ws")).stdout)[0]["run_id"]
    res = cli(env, "graph", "wf.json", "--run", run_id, "-o", "s.svg", *common(env))
    assert res.returncode == 0, res.stderr
    svg = (env / "s.svg").read_text()
    assert 'data-id="a" data-status="completed"' in svg and 'data-id="b" data-status="failed"' in svg


def test_schedule_runs_max_runs_times_on_a_seconds_cron(env):
    name = write(env, {"name": "tick", "trigger": {"type": "schedule", "config": {"interval": "* * * * * *"}},
                       "nodes": [{"id": "a", "block": "noop", "config": {"value": 1}}]})
    res = cli(env, "schedule", name, "--max-runs", "2", *common(env), timeout=30)
    assert res.returncode == 0, res.stderr
    assert "schedule finished: 2 runs, 0 failed" in res.stdout
    runs = json.loads(cli(env, "runs", "--json", "--workspace", str(env / "ws")).stdout)
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)
    started = sorted(r["created_at"] for r in runs)
    assert started[1] - started[0] >= 0.5  # one fire time per second, not back to back

    res = cli(env, "schedule", write(env, {"name": "x", "nodes": [{"id": "a", "block": "noop"}]}, "n.json"),
              "--max-runs", "1", *common(env))
    assert res.returncode == 2 and "no schedule trigger" in res.stderr


def test_blocks_json_and_show(env):
    res = cli(env, "blocks", "--json", "--blocks-dir", str(env / "blocks"))
    assert res.returncode == 0, res.stderr
    blocks = {b["id"]: b for b in json.loads(res.stdout)}
    assert {"shout", "echo", "sleep", "flaky"} <= set(blocks)
    assert blocks["shout"]["input_schema"]["required"] == ["text"]
    show = cli(env, "blocks", "show", "shout", "--blocks-dir", str(env / "blocks"))
    assert show.returncode == 0 and "bangs" in show.stdout and "Upper-case" in show.stdout
    unknown = cli(env, "blocks", "show", "shuot", "--blocks-dir", str(env / "blocks"))
    assert unknown.returncode == 2 and "did you mean shout" in unknown.stderr


def test_bad_option_values_are_user_errors(env):
    name = write(env, GOOD)
    res = cli(env, "run", name, "--executor", "spark", *common(env))
    assert res.returncode == 2 and "unknown executor 'spark'" in res.stderr
    res = cli(env, "run", name, "--input", "novalue", *common(env))
    assert res.returncode == 2 and "KEY=VALUE" in res.stderr


def test_ctrl_c_leaves_an_interrupted_run_that_resumes(env):
    import signal
    import time

    data = {"name": "long", "nodes": [{"id": "quick", "block": "noop", "config": {"value": 1}},
                                      {"id": "slow", "block": "sleep", "config": {"seconds": 30}}]}
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    proc = subprocess.Popen([AUTOGPT, "workflow", "run", write(env, data), *common(env)], cwd=env, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs_dir = env / "ws" / "workflows" / "runs"
    deadline = time.time() + 20
    while time.time() < deadline and not any(
            '"node": "slow"' in p.read_text() for p in runs_dir.glob("*/events.jsonl")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "autogpt workflow resume" in err
    run = json.loads(cli(env, "runs", "--json", "--workspace", str(env / "ws")).stdout)[0]
    assert run["status"] == "interrupted" and run["nodes"]["slow"]["status"] == "pending"
    assert run["nodes"]["quick"]["status"] == "completed"
    kinds = [json.loads(line)["type"] for line in (runs_dir / run["run_id"] / "events.jsonl").read_text().splitlines()]
    assert kinds[-1] == "interrupted" and "finished" not in kinds


# Data passing between blocks: conversion, unconvertible edges, file references ---------------------------
def files_dir(env: Path) -> Path:
    return env / "ws" / "workflows" / "files"


def test_calculator_result_into_file_write_runs(env):
    data = {"name": "calc", "nodes": [
        {"id": "calc", "block": "calculator", "config": {"expression": "(2 + 3) * 4"}},
        {"id": "save", "block": "file_write", "config": {"path": "out/result.txt"}},
    ], "edges": [{"from": "calc", "to": "save"}]}
    name = write(env, data)
    assert cli(env, "validate", name).returncode == 0
    res = cli(env, "run", name, "--json", *common(env))
    assert res.returncode == 0, res.stderr
    assert (files_dir(env) / "out" / "result.txt").read_text() == "20"
    out = outputs_of(res.stdout)
    assert out["save"] == {"path": "out/result.txt",
                           "file": {"path": "out/result.txt", "mime_type": "text/plain", "size": 2}}


def test_validate_lists_unconvertible_edges_with_both_types_among_all_errors(env):
    data = {"name": "bad", "nodes": [
        {"id": "search", "block": "web_search", "config": {"query": "x"}, "timeout": -3},
        {"id": "more", "block": "web_search", "config": {"query": "y"}, "retry": {"count": "lots"}},
        {"id": "calc", "block": "calculatr"},
        {"id": "cond", "block": "condition", "config": {"operator": ">", "threshold": 1}},
        {"id": "write", "block": "file_write", "config": {"path": "x.txt", "content": "x", "mode": "append"}},
    ], "edges": [
        {"from": "search", "from_output": "results", "to": "more", "to_input": "max_results"},
        {"from": "search", "from_output": "urls", "to": "write", "to_input": "mode"},
        {"from": "search", "from_output": "urls", "to": "cond"},  # Any input: anything converts
    ]}
    res = cli(env, "validate", write(env, data))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert lines[0].endswith("is invalid (5 errors):"), res.stderr
    assert "  edges[0]: search.results -> more.max_results: output type list[object] can never convert to " \
           "input type integer; connect a port of a matching type or convert it in between" in lines
    assert any(line.startswith('  edges[1]: search.urls -> write.mode: output type list[string] can never '
                               'convert to input type one of "overwrite", "append"') for line in lines)
    assert any("nodes[0].timeout: must be a number >= 0, got -3" in line for line in lines)
    assert any('nodes[1].retry.count: must be a whole number >= 0 and <= 100, got "lots"' in line for line in lines)
    assert any("unknown block 'calculatr'" in line and "did you mean calculator" in line for line in lines)
    # Nothing ran: no run directory was made.
    assert not (env / "ws").exists()


def test_value_dependent_edge_fails_at_run_time_naming_the_edge(env):
    data = {"name": "late", "nodes": [
        {"id": "ask", "block": "user_input", "config": {"name": "n"}},
        {"id": "search", "block": "web_search", "config": {"query": "x"}},
    ], "edges": [{"from": "ask", "to": "search", "to_input": "max_results"}]}
    name = write(env, data)
    assert cli(env, "validate", name).returncode == 0  # any -> integer depends on the value
    res = cli(env, "run", name, "-i", "n=three", *common(env))
    assert res.returncode == 1
    text = " ".join(res.stdout.split())
    assert 'edge ask.value -> search.max_results: cannot convert string "three" to integer (not a number)' in text


def test_file_reference_round_trip_into_text_and_path_inputs(env):
    data = {"name": "files", "nodes": [
        {"id": "save", "block": "file_write", "config": {"path": "notes/today.md", "content": "buy milk"}},
        {"id": "loud", "block": "shout"},  # a text input: receives the file's text
        {"id": "read", "block": "file_read"},  # a path input: receives the path
        {"id": "rows", "block": "csv_write", "config": {"path": "t.csv", "rows": [{"a": 1}]}},
        {"id": "back", "block": "csv_read"},
    ], "edges": [{"from": "save", "to": "loud"}, {"from": "save", "to": "read"}, {"from": "rows", "to": "back"}]}
    res = cli(env, "run", write(env, data), "--json", *common(env))
    assert res.returncode == 0, res.stderr
    out = outputs_of(res.stdout)
    assert out["loud"] == {"text": "BUY MILK!"}
    assert out["read"] == {"content": "buy milk"}
    assert out["back"]["rows"] == [{"a": "1"}]
    assert out["save"]["file"] == {"path": "notes/today.md", "mime_type": "text/markdown", "size": 8}
    show = " ".join(cli(env, "blocks", "show", "file_write").stdout.split())
    assert "default ports: content -> file" in show and "string (file path)" in show and "FileRef" in show


@pytest.mark.parametrize("escape", ["../../secret.txt", "/etc/hostname"])
def test_path_inputs_fed_by_text_stay_confined(env, escape):
    (env / "secret.txt").write_text("top secret")
    data = {"name": "esc", "nodes": [
        {"id": "ask", "block": "user_input", "config": {"name": "p"}},
        {"id": "read", "block": "file_read"},
    ], "edges": [{"from": "ask", "to": "read"}]}
    res = cli(env, "run", write(env, data), "-i", f"p={escape}", "--json", *common(env))
    assert res.returncode == 1 and "top secret" not in res.stdout + res.stderr


def test_database_blocks_cannot_reach_files_outside_the_workflow(env):
    outside = env / "escaped"
    data = {"name": "db", "nodes": [
        {"id": "url", "block": "database_query", "config": {"query": "CREATE TABLE t (x)", "url": f"sqlite:///{outside}1"}},
        {"id": "up", "block": "database_log", "config": {"record": 1, "url": "sqlite:///../../../escaped2"}},
        {"id": "attach", "block": "database_query", "config": {"query": f"ATTACH DATABASE '{outside}3' AS x"}},
        {"id": "vacuum", "block": "database_query", "config": {"query": f"VACUUM INTO '{outside}4'"}},
        {"id": "fine", "block": "database_query", "config": {"query": "SELECT 1 AS one", "url": "sqlite:///my.db"}},
    ]}
    res = cli(env, "run", write(env, data), "--json", *common(env))
    assert res.returncode == 1
    assert outputs_of(res.stdout) == {"fine": {"rows": [{"one": 1}], "rowcount": 1}}
    state = json.loads(cli(env, "runs", "--json", "--workspace", str(env / "ws")).stdout)[0]
    errors = {nid: n["error"] for nid, n in state["nodes"].items() if n["status"] == "failed"}
    assert set(errors) == {"url", "up", "attach", "vacuum"}
    assert "outside the workflow's files folder" in errors["url"] and "outside" in errors["up"]
    assert "not authorized" in errors["attach"] and "authorization denied" in errors["vacuum"]
    assert not any(env.glob("escaped*")) and (files_dir(env) / "my.db").is_file()


def test_template_bombs_fail_their_node_only(env):
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    data = {"name": "bombs", "nodes": [
        {"id": "big", "block": "text_template", "config": {"template": "{{ 'a' * 10**8 }}"}},
        {"id": "slow", "block": "text_template", "config": {"template": loops}, "timeout": 2},
        {"id": "fine", "block": "text_template", "config": {"template": "{{ 6 * 7 }}"}},
    ]}
    import time

    started = time.monotonic()
    res = cli(env, "run", write(env, data), "--json", *common(env))
    assert time.monotonic() - started < 30
    assert res.returncode == 1 and outputs_of(res.stdout) == {"fine": {"text": "42"}}
    state = json.loads(cli(env, "runs", "--json", "--workspace", str(env / "ws")).stdout)[0]
    assert state["nodes"]["big"]["error"] == ("ToolError: template refused: a repeated string or list would be "
                                              "100,000,000 long; templates may build at most 1,000,000 characters "
                                              "or items")
    assert state["nodes"]["slow"]["error"].startswith("timed out after 2s")
