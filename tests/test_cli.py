"""The real `autogpt` CLI in a subprocess, driven by the scripted model (`--model scripted/FILE`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forge.models.scripted import decision

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
HAS_BWRAP = shutil.which("bwrap") is not None


def cli(*args: str, input: str | None = None, env: dict | None = None, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    full_env.update(env or {})
    return subprocess.run([AUTOGPT, *args], input=input or "", capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


def script(tmp_path: Path, *items, name: str = "script.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(list(items)))
    return f"scripted/{path}"


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_help_lists_commands():
    result = cli("--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "runs" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", ""], "goal is empty"),
        (["run", "   "], "goal is empty"),
        (["run", "x", "--model", "nosuchprovider/zzz"], "unknown model"),
        (["run", "x", "--model", "local/gpt-9"], "unknown local model"),
        (["run", "x", "--model", "scripted/does-not-exist.json"], "not found"),
        (["run", "--resume", "nope"], "no run 'nope'"),
        (["run", "x", "--workspace", ""], "workspace: is empty"),
        (["runs", "list", "--workspace", ""], "workspace: is empty"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path, args, message):
    ws = [] if "--workspace" in args else ["--workspace", str(tmp_path / "ws")]
    result = cli(*args, *ws, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_api_key_names_the_env_var(tmp_path):
    env = {k: "" for k in ("OPENAI_API_KEY",)}
    result = cli("run", "x", "--model", "openai/gpt-4o-mini", "--workspace", str(tmp_path / "ws"),
                 env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_workspace_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = cli("run", "x", "--model", script(tmp_path, decision("finish", reason="x")),
                 "--workspace", str(blocker / "ws"), cwd=tmp_path)
    assert result.returncode == 2
    assert "not writable" in result.stderr and "--workspace" in result.stderr


def test_json_mode_prints_one_event_per_line_and_finishes(tmp_path):
    model = script(tmp_path, decision("write_file", path="out.txt", content="hello"),
                   decision("finish", reason="wrote it"))
    result = cli("run", "write hello", "-c", "--json", "--model", model, "--workspace", str(tmp_path / "ws"),
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    assert [e["type"] for e in events][0] == "run_started"
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "finished"
    assert (tmp_path / "ws" / "agents" / "autogpt" / "workspace" / "out.txt").read_text() == "hello"


def test_interactive_feedback_then_quit(tmp_path):
    model = script(tmp_path, decision("write_file", path="a.txt", content="1"),
                   decision("write_file", path="b.txt", content="2"))
    result = cli("run", "goal", "--json", "--model", model, "--workspace", str(tmp_path / "ws"),
                 input="use b.txt instead\nn\n", cwd=tmp_path)
    assert result.returncode == 6, result.stderr
    types = [e["type"] for e in events_of(result.stdout)]
    assert "user_feedback" in types and "tool_started" not in types
    assert not (tmp_path / "ws" / "agents" / "autogpt" / "workspace" / "a.txt").exists()


def test_iteration_limit_exit_code_and_runs_commands(tmp_path):
    model = script(tmp_path, *[decision("list_folder", str(i), path=".") for i in range(2)],
                   decision("write_file", path="x.txt", content="x"))
    ws = str(tmp_path / "ws")
    result = cli("run", "loop", "-c", "--max-iterations", "2", "--model", model, "--workspace", ws, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Resume with: autogpt run --resume" in result.stderr

    listed = json.loads(cli("runs", "list", "--json", "--workspace", ws).stdout)
    assert len(listed) == 1 and listed[0]["status"] == "iteration_limit" and listed[0]["steps"] == 2
    run_id = listed[0]["run_id"]
    shown = json.loads(cli("runs", "show", run_id, "--json", "--workspace", ws).stdout)
    assert [s["tool"] for s in shown["steps"]] == ["list_folder", "list_folder"]
    table = cli("runs", "list", "--workspace", ws).stdout
    assert run_id in table and "iteration_limit" in table

    # resume continues the same run, with more iterations
    more = script(tmp_path, decision("finish", reason="done after resume"), name="more.json")
    resumed = cli("run", "--resume", run_id, "-c", "--model", more, "--workspace", ws, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    shown = json.loads(cli("runs", "show", run_id, "--json", "--workspace", ws).stdout)
    assert shown["state"]["status"] == "finished" and len(shown["steps"]) == 3


@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="needs bubblewrap")
def test_resume_after_kill_does_not_rerun_the_tool(tmp_path):
    ws = tmp_path / "ws"
    code = "open('marker.txt', 'a').write('ran\\n'); import time; time.sleep(60)"
    model = script(tmp_path, decision("execute_python", code=code))
    proc = subprocess.Popen([AUTOGPT, "run", "slow", "-c", "--json", "--model", model, "--workspace", str(ws)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    marker = ws / "agents" / "autogpt" / "workspace" / "marker.txt"
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the sandboxed code never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    run_id = next((ws / "runs").iterdir()).name
    assert '"finished"' not in (ws / "runs" / run_id / "events.jsonl").read_text()
    listed = json.loads(cli("runs", "list", "--json", "--workspace", str(ws)).stdout)
    assert listed[0]["status"] == "interrupted"

    more = script(tmp_path, decision("finish", reason="recovered"), name="more.json")
    result = cli("run", "--resume", run_id, "-c", "--json", "--model", more, "--workspace", str(ws), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "ran\n"  # the interrupted tool was not run again
    results = [e for e in events_of(result.stdout) if e["type"] == "tool_result"]
    assert results[0]["step"] == 1 and results[0]["ok"] is False and "interrupted" in results[0]["output"]


def test_api_key_never_reaches_output_or_records(tmp_path):
    secret = "sk-live-cli-secret-998877"
    model = script(tmp_path, decision("write_file", path="k.txt", content=secret),
                   decision("read_file", path="k.txt"), decision("finish", reason="done"))
    ws = tmp_path / "ws"
    result = cli("run", "leak test", "-c", "--json", "--debug", "--model", model, "--workspace", str(ws),
                 env={"OPENAI_API_KEY": secret}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout and secret not in result.stderr
    for f in (ws / "runs").rglob("*"):
        if f.is_file():
            assert secret not in f.read_text()


def test_openai_compatible_server_with_native_tools_and_budget(tmp_path):
    """gpt-4o-mini through litellm against a local fake server: native tool calls, real cost, budget stop."""
    from test_llm import FakeOpenAI, chat_body

    fake = FakeOpenAI()
    for i in range(4):
        call = {"id": f"call_{i}", "type": "function",
                "function": {"name": "write_file", "arguments": json.dumps({"path": f"f{i}.txt", "content": "x"})}}
        fake.then(200, chat_body('{"thoughts": {"text": "writing"}}', [call]))
    fake.thread.start()
    try:
        ws = tmp_path / "ws"
        # 120 + 30 tokens cost $0.000036 per call at gpt-4o-mini prices: the 2nd call crosses $0.00005
        result = cli("run", "write files", "-c", "--json", "--model", "openai/gpt-4o-mini", "--api-base",
                     fake.api_base, "--budget", "0.00005", "--workspace", str(ws),
                     env={"OPENAI_API_KEY": "sk-test-dummy-key"}, cwd=tmp_path)
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    assert result.returncode == 4, result.stderr
    assert len(fake.requests) == 2
    assert [t["function"]["name"] for t in fake.requests[0]["tools"]][:2] == ["read_file", "write_file"]
    events = events_of(result.stdout)
    decisions = [e for e in events if e["type"] == "decision"]
    assert [d["decision"]["tool_args"]["path"] for d in decisions] == ["f0.txt", "f1.txt"]
    assert decisions[0]["decision"]["thoughts"]["text"] == "writing"
    assert decisions[0]["usage"]["cost_usd"] > 0
    assert events[-1]["status"] == "budget_exceeded"
    assert (ws / "agents" / "autogpt" / "workspace" / "f1.txt").exists()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"AUTOGPT_MAX_ITERATIONS": "0"}, "max_iterations: Input should be greater than or equal to 1"),
        ({"AUTOGPT_CODE_TIMEOUT": "-1"}, "code_timeout"),
        ({"AUTOGPT_SHELL_ALLOWLIST": '["ls", '}, "shell_allowlist: not a JSON list"),
    ],
)
def test_bad_settings_are_one_line_exit_2(tmp_path, env, message):
    result = cli("run", "x", "--workspace", str(tmp_path / "ws"), env=env, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_comma_separated_list_settings_are_accepted(tmp_path):
    from forge.config import Settings

    assert Settings(_env_file=None, shell_allowlist="ls, cat").shell_allowlist == ["ls", "cat"]
    model = script(tmp_path, decision("execute_shell", command="cat x"), decision("finish", reason="ok"))
    result = cli("run", "x", "-c", "--no-memory", "--json", "--model", model, "--workspace", str(tmp_path / "ws"),
                 env={"AUTOGPT_SHELL_ALLOWLIST": "ls,echo", "AUTOGPT_SANDBOX": "none"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    refused = [e for e in events_of(result.stdout) if e["type"] == "tool_result"][0]
    assert not refused["ok"] and "allowlist" in refused["output"]


def test_provider_failure_has_its_own_exit_code(tmp_path):
    model = script(tmp_path, decision("list_folder", path="."))  # then the script runs out: a provider error
    result = cli("run", "x", "-c", "--no-memory", "--model", model, "--workspace", str(tmp_path / "ws"), cwd=tmp_path)
    assert result.returncode == 9, result.stderr
    assert "error: scripted model ran out of responses" in result.stderr and "Traceback" not in result.stderr


def test_a_run_has_one_driver(tmp_path):
    ws = str(tmp_path / "ws")
    model = script(tmp_path, decision("list_folder", path="."), decision("finish", reason="ok"))
    first = subprocess.Popen([AUTOGPT, "run", "hold", "--no-memory", "--json", "--model", model, "--workspace", ws],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=tmp_path)
    try:
        assert first.stdout is not None
        run_id = json.loads(first.stdout.readline())["run_id"]  # waiting at the approval prompt now
        second = cli("run", "--resume", run_id, "-c", "--no-memory", "--model", model, "--workspace", ws,
                     cwd=tmp_path)
        assert second.returncode == 2
        assert f"being driven by another process (pid {first.pid})" in second.stderr
    finally:
        first.communicate("n\n", timeout=60)
    assert first.returncode == 6
    again = cli("run", "--resume", run_id, "-c", "--no-memory", "--model", model, "--workspace", ws, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    states = [e["type"] for e in events_of(Path(ws, "runs", run_id, "events.jsonl").read_text())]
    assert states.count("finished") == 2  # user_quit, then finished: never two drivers' events interleaved
