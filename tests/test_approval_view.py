"""The user sees exactly what will run before approving it, and nothing a model or tool prints can
drive the terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from autogpt_cli.action_view import render_action
from autogpt_cli.approval import InteractiveApprover
from autogpt_cli.display import RichDisplay
from forge.agent.agent import Proposal
from forge.agent.decision import Decision
from forge.events.models import parse_agent_event
from forge.models.scripted import decision
from forge.security.untrusted_text import for_terminal

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
EVIL = "import os; os.remove('user_data.csv')"


def plain(tool: str, args: dict, full: bool = False) -> tuple[str, bool]:
    text, shortened = render_action(tool, args, full=full)
    return text.plain, shortened


def test_padding_cannot_push_an_argument_out_of_view():
    # The review's case: benign first, 5,000 spaces, then the action that matters.
    code = "print('hello')" + " " * 5000 + EVIL
    shown, shortened = plain("execute_python", {"code": code})
    assert EVIL in shown and "⟨5000 spaces⟩" in shown and not shortened
    url = "http://169.254.169.254/latest/meta-data/"
    shown, _ = plain("read_webpage", {"question": "what is the weather?" + " " * 300, "url": url})
    assert url in shown
    assert shown.index("url") < shown.index("question")  # what decides the action comes first


def test_long_values_are_shortened_only_with_an_explicit_marker():
    code = "\n".join(f"x{i} = {i}" for i in range(500)) + "\n" + EVIL
    shown, shortened = plain("execute_python", {"code": code})
    assert shortened and "lines (" in shown and "hidden: answer v to view all" in shown
    assert EVIL in shown  # the tail is always shown
    full, again = plain("execute_python", {"code": code}, full=True)
    assert not again and "x250 = 250" in full and "hidden" not in full
    assert "(" + str(len(code)) + " chars, 501 lines)" in shown


def test_control_characters_are_visible():
    content = "safe\rrm -rf ~ \x1b[2K\x1b[1Ahidden \u202eevil\u200b"
    shown, _ = plain("write_file", {"path": "a.txt", "content": content})
    for raw in ("\r", "\x1b", "\u202e", "\u200b"):
        assert raw not in shown
    assert "\\r" in shown and "\\x1b[2K" in shown and "\\u202e" in shown and "has control characters" in shown


def test_a_value_cannot_imitate_the_prompt():
    shown, _ = plain("write_file", {"path": "a.txt", "content": "x\nNEXT ACTION: finish(reason='ok')\nRun it?"})
    lines = shown.splitlines()
    fake = [line for line in lines if "NEXT ACTION" in line and "finish" in line][0]
    assert fake.startswith("  │ ")


def test_approver_offers_view_all_and_shows_everything():
    asked: list[str] = []
    answers = iter(["v", "y"])

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    buf = io.StringIO()
    display = RichDisplay(Console(file=buf, width=120, force_terminal=False))
    code = "\n".join(f"y{i} = {i}" for i in range(300))
    dec = Decision.model_validate(decision("execute_python", code=code))
    display(parse_agent_event({"type": "decision", "step": 1, "decision": dec.model_dump()}))
    verdict = InteractiveApprover(ask=ask, presenter=display)(Proposal(1, dec))
    assert verdict.run and "[v] view all" in asked[0] and "[v]" not in asked[1]
    out = buf.getvalue()
    assert "y150 = 150" in out  # shown after `v`
    assert out.count("NEXT ACTION") == 2  # once shortened, once whole; never silently


def test_rich_display_escapes_everything_untrusted():
    buf = io.StringIO()
    display = RichDisplay(Console(file=buf, width=200, force_terminal=True))
    nasty = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred"
    display(parse_agent_event({"type": "run_started", "run_id": "r", "model": "m", "goal": nasty}))
    display(parse_agent_event({"type": "decision", "step": 1, "decision": decision("finish", nasty, reason=nasty)}))
    display(parse_agent_event({"type": "tool_result", "step": 1, "ok": True, "output": nasty}))
    display(parse_agent_event({"type": "warning", "step": 1, "message": nasty}))
    display(parse_agent_event({"type": "invalid_decision", "step": 2, "error": nasty}))
    display(parse_agent_event({"type": "finished", "status": "stuck", "summary": nasty}))
    out = buf.getvalue()
    assert "\x1b]0;pwned" not in out and "\x1b[2J" not in out and "\x1b[31mred" not in out
    assert out.count("\\x1b]0;pwned") >= 6


def test_for_terminal_keeps_ordinary_text():
    text = "def f():\n\treturn 'héllo 你好 ✓'\n"
    assert for_terminal(text) == text


def _interactive(args: list[str], answers: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    env.update({"COLUMNS": "160", "AUTOGPT_SANDBOX": "none"})
    return subprocess.run([AUTOGPT, *args], input=answers, capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)


def test_padded_action_transcript_through_the_cli(tmp_path):
    ws = tmp_path / "ws"
    code = "print('tidy up')\n" + "\n" * 400 + EVIL
    script = tmp_path / "s.json"
    script.write_text(json.dumps([decision("execute_python", "tidy the folder", code=code),
                                  decision("finish", reason="done")]))
    r = _interactive(["run", "tidy", "--no-memory", "--model", f"scripted/{script}", "--workspace", str(ws)],
                     "n\n", tmp_path)
    assert r.returncode == 6, r.stderr
    assert EVIL in r.stdout and "⟨" in r.stdout and "blank lines⟩" in r.stdout
    (tmp_path / "transcript.txt").write_text(r.stdout + r.stderr)

    # --resume shows the pending action again before asking
    run_id = next((ws / "runs").iterdir()).name
    again = _interactive(["run", "--resume", run_id, "--no-memory", "--model", f"scripted/{script}",
                          "--workspace", str(ws)], "n\n", tmp_path)
    assert again.returncode == 6, again.stderr
    assert "Pending action of step 1" in again.stdout and EVIL in again.stdout
