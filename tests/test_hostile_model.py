"""What a hostile or broken model (and hostile file names, goals and logs) can do to a run: nothing
but produce observations and invalid decisions. Every case here crashed or hung the agent once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from forge.agent import loop
from forge.agent.agent import Agent
from forge.agent.outcome import Status
from forge.models.base import LLMResponse, ToolCall
from forge.models.scripted import ScriptedModel, decision
from forge.runs.log import RunLog, read_events, read_state
from forge.tools import builtin
from forge.tools.base import ToolContext, ToolRegistry

AUTOGPT = str(Path(sys.executable).parent / "autogpt")


def tools() -> ToolRegistry:
    return ToolRegistry([builtin.read_file, builtin.write_file, builtin.list_folder, builtin.finish])


def run_script(settings, script, goal="probe") -> tuple[Agent, object]:
    agent = Agent.start(goal, settings, ScriptedModel(script), tools())
    return agent, loop.run(agent)


def events(agent: Agent) -> list[dict]:
    return list(read_events(agent.log.dir))


def test_deeply_nested_reply_is_an_invalid_decision_not_a_crash(settings):
    deep = '{"tool": "finish", "tool_args": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}"
    deep_args = '{"tool": "finish", "tool_args": {"reason": ' + "[" * 200 + "]" * 200 + "}}"
    agent, outcome = run_script(settings, [deep, deep_args, decision("finish", reason="ok")])
    assert outcome.status is Status.FINISHED
    invalid = [e for e in events(agent) if e["type"] == "invalid_decision"]
    assert len(invalid) == 2 and all("deeper than" in e["error"] for e in invalid)
    # The model is told, in its next prompt, what was wrong.
    assert "deeper than" in agent.history[0].one_line()


def test_native_tool_call_with_nested_arguments_is_invalid(settings):
    nested = ToolCall("finish", '{"reason": ' + "[" * 5000 + "]" * 5000 + "}")
    agent, outcome = run_script(settings, [LLMResponse(None, [nested]), decision("finish", reason="ok")])
    assert outcome.status is Status.FINISHED
    assert any(e["type"] == "invalid_decision" for e in events(agent))


def test_lone_surrogates_in_a_reply_are_stored_and_resumable(settings):
    reply = json.dumps({"thoughts": {"text": "bad \ud800 char"}, "tool": "write_file",
                        "tool_args": {"path": "s.txt", "content": "x\udcff\ud83dy"}})
    raw_reply = '{"thoughts": {"text": "raw \ud800"}, "tool": "finish", "tool_args": {"reason": "r\udc80"}}'
    agent, outcome = run_script(settings, [reply, raw_reply])
    assert outcome.status is Status.FINISHED
    text = (agent.log.dir / "events.jsonl").read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "\ufffd" in text
    assert (settings.agent_workspace() / "s.txt").read_text(encoding="utf-8") == "x\ufffd\ufffdy"
    assert read_state(agent.log.dir)["status"] == "finished"


def test_invalid_utf8_goal_through_the_cli(tmp_path):
    ws = tmp_path / "ws"
    script = tmp_path / "s.json"
    script.write_text(json.dumps([decision("finish", reason="done")]))
    goal = b"write \xff\xfe a file"
    proc = subprocess.run([AUTOGPT.encode(), b"run", goal, b"-c", b"--no-memory", b"--json", b"--workspace",
                           str(ws).encode(), b"--model", f"scripted/{script}".encode()],
                          capture_output=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    started = json.loads(proc.stdout.decode("utf-8").splitlines()[0])
    assert started["type"] == "run_started" and started["goal"] == "write \ufffd\ufffd a file"
    run_id = started["run_id"]
    again = subprocess.run([AUTOGPT, "runs", "show", run_id, "--workspace", str(ws)], capture_output=True, text=True)
    assert again.returncode == 0 and "Traceback" not in again.stderr


def test_non_utf8_file_name_is_listed_and_stored(settings):
    ws = settings.agent_workspace()
    ws.mkdir(parents=True)
    with open(os.fsencode(ws) + b"/bad\xffname.txt", "wb") as f:
        f.write(b"hi")
    agent, outcome = run_script(settings, [decision("list_folder", path="."), decision("finish", reason="ok")])
    assert outcome.status is Status.FINISHED
    listed = agent.history[0].output or ""
    assert "bad\ufffdname.txt" in listed and "not valid UTF-8" in listed
    (agent.log.dir / "events.jsonl").read_bytes().decode("utf-8")


def test_read_file_on_a_fifo_returns_at_once(settings):
    ws = settings.agent_workspace()
    ws.mkdir(parents=True)
    os.mkfifo(ws / "pipe")
    ctx = ToolContext(workspace=ws, settings=settings)
    done: list[str] = []
    t = threading.Thread(target=lambda: done.append(_call(builtin.read_file, ctx, {"path": "pipe"})), daemon=True)
    t.start()
    t.join(5)
    assert done, "read_file blocked on a FIFO"
    assert "FIFO" in done[0] and "not a regular file" in done[0]


def _call(tool, ctx, args) -> str:
    try:
        return str(tool(ctx, args))
    except Exception as e:  # the agent turns ToolErrors into observations; so do we
        return str(e)


def test_read_file_with_a_huge_offset_uses_no_memory(settings):
    ws = settings.agent_workspace()
    ws.mkdir(parents=True)
    (ws / "f.txt").write_text("abc" * 1000)
    ctx = ToolContext(workspace=ws, settings=settings)
    assert "file has ended" in builtin.read_file(ctx, {"path": "f.txt", "offset": 10**15})
    assert builtin.read_file(ctx, {"path": "f.txt", "offset": 2999}).startswith("c")
    assert "file has ended" in builtin.read_file(ctx, {"path": "f.txt", "offset": 3000})


def test_tool_errors_do_not_show_host_paths(settings):
    ws = settings.agent_workspace()
    ws.mkdir(parents=True)
    (ws / "locked").mkdir()
    long_name = "x" * 300  # ENAMETOOLONG: the OS error quotes the full path
    agent, _ = run_script(settings, [decision("write_file", path=f"locked/{long_name}", content="a"),
                                     decision("finish", reason="ok")])
    out = agent.history[0].output or ""
    assert not agent.history[0].ok and "File name too long" in out
    assert str(ws.resolve()) not in out and str(settings.workspace.resolve()) not in out
    assert "locked/xxx" in out


def test_big_arguments_are_logged_once(settings):
    big = "y" * 2_000_000
    agent, _ = run_script(settings, [decision("write_file", path="big.txt", content=big),
                                     decision("finish", reason="ok")])
    assert (agent.log.dir / "events.jsonl").read_text().count(big) == 1


def test_a_torn_last_line_does_not_swallow_the_next_event(tmp_path):
    log = RunLog.create(tmp_path)
    log.append("one")
    log.close()
    with open(log.dir / "events.jsonl", "ab") as f:
        f.write(b'{"seq": 2, "type": "tor')  # a crash mid-write
    again = RunLog.open(tmp_path, log.run_id)
    again.append("three")
    again.close()
    assert [e["type"] for e in read_events(log.dir)] == ["one", "three"]


def test_damaged_run_records_do_not_break_runs_list(tmp_path, settings):
    runs = settings.runs_dir()
    for name, state in [("a-list", "[1, 2]"), ("b-garbage", "{not json"), ("c-types", json.dumps(
            {"status": "finished", "prompt_tokens": "many", "cost_usd": None, "steps": [], "goal": {"x": 1}}))]:
        (runs / name).mkdir(parents=True)
        (runs / name / "events.jsonl").write_text('{"seq": 1, "type": "run_started"}\n')
        (runs / name / "state.json").write_text(state)
    ok = RunLog.create(runs, "d-good")
    ok.append("run_started")
    ok.write_state({"run_id": "d-good", "status": "finished", "goal": "fine", "created_at": "2026"})
    ok.close()
    for args in (["runs", "list"], ["runs", "list", "--json"]):
        proc = subprocess.run([AUTOGPT, *args, "--workspace", str(settings.workspace)], capture_output=True,
                              text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"})
        assert proc.returncode == 0, proc.stderr
        assert "d-good" in proc.stdout and "a-list" in proc.stdout and "c-types" in proc.stdout


def test_second_driver_of_a_run_is_refused_with_its_pid(settings):
    agent = Agent.start("hold", settings, ScriptedModel([decision("finish", reason="x")]), tools())
    from forge.errors import RunError

    with pytest.raises(RunError, match=f"pid {os.getpid()}"):
        Agent.resume(agent.log.run_id, settings, ScriptedModel([]), tools())
    agent.log.close()  # the first driver is gone: resuming works
    resumed = Agent.resume(agent.log.run_id, settings, ScriptedModel([decision("finish", reason="x")]), tools())
    assert loop.run(resumed).status is Status.FINISHED
