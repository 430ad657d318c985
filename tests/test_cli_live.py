"""Issue 12 through the real CLI with the scripted model: the live line in a pseudo-terminal, per-step
figures and the end summary, --debug, editing an action, --resume limits, --continue."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from forge.models.scripted import decision

AUTOGPT = str(Path(sys.executable).parent / "autogpt")


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_") and k not in ("EDITOR", "VISUAL")}
    out.update({"COLUMNS": "160", "AUTOGPT_SANDBOX": "none", **extra})
    return out


def cli(tmp_path: Path, *args: str, input: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTOGPT, *args, "--no-memory", "--workspace", str(tmp_path / "ws")], input=input,
                          capture_output=True, text=True, env=env(**extra), cwd=tmp_path, timeout=120)


def script(tmp_path: Path, *items: object, name: str = "s.json", **options: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"responses": list(items), **options} if options else list(items)))
    return f"scripted/{path}"


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_live_line_counts_seconds_and_tokens_while_the_model_works(tmp_path: Path):
    model = script(tmp_path, decision("finish", "all done now", reason="nothing to do"), delay_s=4)
    master, slave = pty.openpty()
    proc = subprocess.Popen([AUTOGPT, "run", "wait", "-c", "--no-memory", "--model", model, "--workspace",
                             str(tmp_path / "ws")], stdin=slave, stdout=slave, stderr=slave, env=env(),
                            cwd=tmp_path, close_fds=True)
    os.close(slave)
    seen, pending_view = b"", None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            text = seen.decode(errors="replace")
            if pending_view is None and re.search(r"Step 1: thinking… \d+ s, [1-9]\d* tokens", text):
                pending_view = (text, proc.poll())
    finally:
        os.close(master)
        proc.wait(timeout=30)
    assert pending_view is not None, seen.decode(errors="replace")[-2000:]
    text_then, exited_then = pending_view
    assert exited_then is None and "NEXT ACTION" not in text_then  # shown while the reply was pending
    text = seen.decode(errors="replace")
    assert "NEXT ACTION" in text and proc.returncode == 0


def test_each_step_shows_its_figures_and_the_end_says_where_the_files_are(tmp_path: Path):
    model = script(tmp_path, decision("write_file", path="out.txt", content="hi"), decision("finish", reason="ok"),
                   tokens_per_call=[100, 20], cost_per_call=0.002)
    result = cli(tmp_path, "run", "write", "-c", "--model", model)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"step 1 · model [\d.]+ s · tool [\d.]+ s · 120 tokens \(100 in, 20 out\) · \$0\.0020", out)
    assert "step 2 · model" in out
    assert re.search(r"Time [\d.]+ s · this invocation: 240 tokens \(200 in, 40 out\) · \$0\.0040", out)
    run_id = next((tmp_path / "ws" / "runs").iterdir()).name
    assert "Files: ws/agents/autogpt/workspace/" in out
    assert f"Run:   ws/runs/{run_id}/" in out
    assert "thinking" not in result.stdout + result.stderr  # no live line when not on a terminal


def test_json_mode_stays_json_and_its_end_event_carries_time_and_workspace(tmp_path: Path):
    model = script(tmp_path, decision("finish", reason="ok"))
    result = cli(tmp_path, "run", "x", "-c", "--json", "--model", model)
    assert result.returncode == 0, result.stderr
    end = events_of(result.stdout)[-1]  # every line is JSON
    assert end["type"] == "finished" and end["elapsed_s"] >= 0
    assert end["workspace"] == str(tmp_path / "ws" / "agents" / "autogpt" / "workspace")
    assert result.stderr == ""


def test_debug_shows_prompt_raw_reply_and_latency_with_secrets_redacted(tmp_path: Path):
    secret = "sk-live-0123456789abcdefghijklmnop"
    reply = decision("finish", f"the key is {secret}", reason="ok")
    result = cli(tmp_path, "run", "tidy up", "-c", "--debug", "--model", script(tmp_path, reply),
                 OPENAI_API_KEY=secret)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "model call 1: scripted/" in err and "prompt sent:" in err
    assert "[system]" in err and "[user]" in err and "tidy up" in err
    assert re.search(r"model call 1: [\d.]+ s, 0 \+ 0 tokens, \$0\.0000; raw reply:", err)
    assert '"tool": "finish"' in err and "[REDACTED]" in err and secret not in err + result.stdout


def test_edit_in_editor_validates_then_runs_and_records_the_users_arguments(tmp_path: Path):
    editor = tmp_path / "editor.py"
    # First edit: an argument the tool does not take (refused); second: a new path (accepted).
    editor.write_text(
        "import json, sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1]); args = json.loads(p.read_text())\n"
        "count = pathlib.Path(sys.argv[0]).with_suffix('.n'); n = int(count.read_text()) if count.exists() else 0\n"
        "count.write_text(str(n + 1))\n"
        "args = dict(args, bogus=1) if n == 0 else {'path': 'mine.txt', 'content': args['content']}\n"
        "p.write_text(json.dumps(args))\n"
    )
    model = script(tmp_path, decision("write_file", path="theirs.txt", content="hello"),
                   decision("finish", reason="ok"))
    result = cli(tmp_path, "run", "write", "--model", model, input="e\ne\ny\ny\n",
                 EDITOR=f"{sys.executable} {editor}")
    assert result.returncode == 0, result.stderr
    assert "bogus: Extra inputs are not permitted; the action is unchanged" in result.stderr
    assert "Your edited action:" in result.stdout
    ws = tmp_path / "ws" / "agents" / "autogpt" / "workspace"
    assert (ws / "mine.txt").read_text() == "hello" and not (ws / "theirs.txt").exists()
    log = (next((tmp_path / "ws" / "runs").iterdir()) / "events.jsonl").read_text()
    edited = [e for e in events_of(log) if e["type"] == "action_edited"]
    assert edited == [{**edited[0], "tool_args": {"path": "mine.txt", "content": "hello"}, "by": "user"}]


def test_edit_inline_without_an_editor(tmp_path: Path):
    model = script(tmp_path, decision("write_file", path="a.txt", content="one"), decision("finish", reason="ok"))
    result = cli(tmp_path, "run", "write", "--model", model, input="e\nb.txt\n\ny\ny\n")
    assert result.returncode == 0, result.stderr
    assert "path [\"a.txt\"] (Enter keeps it)" in result.stderr
    assert (tmp_path / "ws" / "agents" / "autogpt" / "workspace" / "b.txt").read_text() == "one"


def test_resume_with_max_iterations_runs_that_many_actions(tmp_path: Path):
    items = [decision("write_file", path=f"{i}.txt", content="x") for i in range(6)]
    model = script(tmp_path, *items)
    assert cli(tmp_path, "run", "goal", "--model", model, input="n\n").returncode == 6
    run_id = next((tmp_path / "ws" / "runs").iterdir()).name
    rest = script(tmp_path, *items[1:], name="rest.json")
    result = cli(tmp_path, "run", "--resume", run_id, "-c", "--max-iterations", "3", "--json", "--model", rest)
    assert result.returncode == 3, result.stderr
    assert sum(e["type"] == "tool_result" for e in events_of(result.stdout)) == 3


def test_resume_shows_the_pending_action_before_asking(tmp_path: Path):
    model = script(tmp_path, decision("write_file", path="a.txt", content="one"))
    assert cli(tmp_path, "run", "goal", "--model", model, input="n\n").returncode == 6
    run_id = next((tmp_path / "ws" / "runs").iterdir()).name
    again = cli(tmp_path, "run", "--resume", run_id, "--model", model, input="n\n")
    assert again.returncode == 6
    assert "Pending action of step 1" in again.stdout and 'path = "a.txt"' in again.stdout


def test_continue_a_finished_run_with_a_follow_up(tmp_path: Path):
    first = script(tmp_path, decision("write_file", path="a.txt", content="A"), decision("finish", reason="a"))
    done = cli(tmp_path, "run", "write a.txt", "-c", "--model", first)
    assert done.returncode == 0 and "Follow up with: autogpt run --continue" in done.stderr
    run_id = next((tmp_path / "ws" / "runs").iterdir()).name

    second = script(tmp_path, decision("write_file", path="b.txt", content="B"), decision("finish", reason="b"),
                    name="second.json")
    result = cli(tmp_path, "run", "--continue", run_id, "now also write b.txt", "-c", "--json", "--model", second)
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    assert events[0] == {**events[0], "type": "follow_up", "step": 3, "text": "now also write b.txt"}
    assert [e["step"] for e in events if e["type"] == "tool_result"] == [3, 4]
    assert len(list((tmp_path / "ws" / "runs").iterdir())) == 1  # the same run
    assert sorted(p.name for p in (tmp_path / "ws" / "agents" / "autogpt" / "workspace").iterdir()) == [
        "a.txt", "b.txt"]
    shown = json.loads(subprocess.run([AUTOGPT, "runs", "show", run_id, "--json", "--workspace", str(tmp_path / "ws")],
                                      capture_output=True, text=True, env=env(), check=True).stdout)
    assert [s["tool"] for s in shown["steps"]] == ["write_file", "finish", "write_file", "finish"]


def test_continue_errors_name_the_fix(tmp_path: Path):
    model = script(tmp_path, decision("list_folder", path="."))
    unknown = cli(tmp_path, "run", "--continue", "no-such-run", "more", "--model", model)
    assert unknown.returncode == 2 and "no run 'no-such-run'" in unknown.stderr and "runs list" in unknown.stderr
    assert cli(tmp_path, "run", "goal", "--model", model, input="n\n").returncode == 6
    run_id = next((tmp_path / "ws" / "runs").iterdir()).name
    unfinished = cli(tmp_path, "run", "--continue", run_id, "more", "--model", model)
    assert unfinished.returncode == 2 and f"autogpt run --resume {run_id}" in unfinished.stderr
    empty = cli(tmp_path, "run", "--continue", run_id, "--model", model)
    assert empty.returncode == 2 and "needs the new instruction" in empty.stderr
    both = cli(tmp_path, "run", "x", "--continue", run_id, "--resume", run_id, "--model", model)
    assert both.returncode == 2 and "do not go together" in both.stderr

    from forge.runs.log import RunLog

    finished = script(tmp_path, decision("finish", reason="ok"), name="done.json")
    assert cli(tmp_path, "run", "quick", "-c", "--model", finished).returncode == 0
    done_id = next(p.name for p in (tmp_path / "ws" / "runs").iterdir() if p.name != run_id)
    driver = RunLog.open(tmp_path / "ws" / "runs", done_id)
    driver.lock_driver()  # as if another process were still driving it
    try:
        busy = cli(tmp_path, "run", "--continue", done_id, "more", "--model", model)
    finally:
        driver.close()
    assert busy.returncode == 2 and f"pid {os.getpid()}" in busy.stderr


def test_workflow_progress_counts_streamed_tokens_per_node():
    from rich.console import Console

    from autogpt_cli.workflow_command import WorkflowProgress
    from forge.events import models as ev

    progress = WorkflowProgress(Console(file=open(os.devnull, "w")), {"ask": "llm_call"})
    progress(ev.NodeStarted(node="ask", block="llm_call"))
    for word in ("Hello", " there", " friend"):
        progress(ev.NodeOutput(node="ask", output="chunk", value=word))
    assert progress.note["ask"] == "3 tokens"
    row = progress.__rich__().columns[-1]._cells[0]
    assert "3 tokens" in str(row)
