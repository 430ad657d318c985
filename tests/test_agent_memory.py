"""The agent loop with long-term memory: each cycle is stored, relevant memories are recalled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge.agent import loop
from forge.agent.agent import Agent
from forge.memory.store import MemoryStore
from forge.models.scripted import ScriptedModel, decision
from forge.runs.log import read_events
from forge.tools.base import ToolRegistry, tool

AUTOGPT = str(Path(sys.executable).parent / "autogpt")


@tool
def note(text: str) -> str:
    """Write a note.

    Args:
        text: The note.
    """
    return f"noted: {text}"


@tool(ends_run=True)
def finish(reason: str) -> str:
    """End the run.

    Args:
        reason: Why.
    """
    return reason


def tools() -> ToolRegistry:
    return ToolRegistry([note, finish])


@pytest.fixture
def mem_settings(settings):
    settings.memory = True
    settings.agent_name = "falcon"
    return settings


def run_once(settings, goal, script):
    model = ScriptedModel(script)
    with MemoryStore.open(settings) as store:
        agent = Agent.start(goal, settings, model, tools(), memory=store)
        outcome = loop.run(agent)
    return agent, model, outcome


def test_cycles_are_stored_and_recalled_by_a_later_run(mem_settings):
    first, _, _ = run_once(
        mem_settings,
        "Find the launch code of project Falcon",
        [
            decision("note", "the ops wiki has it", text="The launch code of project Falcon is 7731."),
            decision("note", "unrelated", text="Lunch is served at noon in the cafeteria."),
            decision("finish", "done", reason="recorded"),
        ],
    )
    with MemoryStore.open(mem_settings, writer=False) as store:
        steps = store.list(kind="step")
        assert len(steps) == 3
        meta = {h.metadata["step"]: h.metadata for h in steps}
        assert meta[1]["run_id"] == first.log.run_id and meta[1]["tool"] == "note" and meta[1]["ok"] is True

    second, model, _ = run_once(
        mem_settings, "What is the launch code of project Falcon?", [decision("finish", "I recall it", reason="7731")]
    )
    prompt = model.calls[0][-1]["content"]
    assert "Relevant memories" in prompt and "7731" in prompt
    assert f"run {first.log.run_id}, step 1" in prompt
    recalled = [e for e in read_events(second.log.dir) if e["type"] == "memories_recalled"]
    assert recalled and recalled[0]["hits"][0]["score"] > 0.3


def test_memories_are_bounded_by_their_token_budget(mem_settings):
    mem_settings.memory_prompt_tokens = 60
    with MemoryStore.open(mem_settings) as store:
        store.add_many([f"Falcon fact number {i}: " + "detail " * 80 for i in range(10)], [{"kind": "note"}] * 10)
    _, model, _ = run_once(mem_settings, "Falcon facts", [decision("finish", "ok", reason="ok")])
    prompt = model.calls[0][-1]["content"]
    section = prompt[prompt.index("Relevant memories") :]
    assert len(section) < 60 * 6 and "[...]" in section


def test_steps_still_in_the_prompt_are_not_recalled_twice(mem_settings):
    _, model, _ = run_once(
        mem_settings,
        "Write notes about Falcon",
        [decision("note", "a", text="Falcon note A"), decision("note", "b", text="Falcon note B"),
         decision("finish", "done", reason="ok")],
    )
    assert "Relevant memories" not in model.calls[1][-1]["content"]  # step 1 is shown in full already


def test_resume_reopens_the_agents_memory(mem_settings, tmp_path):
    """A run killed mid-way resumes through the CLI with its history and its memory."""
    ws = tmp_path / "cli-ws"
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        decision("write_file", "keep it", path="falcon.txt", content="Falcon backup server is at rack 42."),
    ]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    base = [AUTOGPT, "run", "--workspace", str(ws), "--ai-name", "falcon", "-c", "--json"]
    first = subprocess.run([*base, "note falcon things", "--model", f"scripted/{script}", "--max-iterations", "1"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert first.returncode == 3, first.stderr
    run_id = json.loads(first.stdout.splitlines()[0])["run_id"]

    script2 = tmp_path / "script2.json"
    script2.write_text(json.dumps([decision("finish", "found it", reason="rack 42")]))
    second = subprocess.run([*base, "--resume", run_id, "--model", f"scripted/{script2}"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert second.returncode == 0, second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert any(e["type"] == "finished" and e["status"] == "finished" for e in events)
    assert not any(e["type"] == "memories_recalled" for e in events)  # step 1 is still shown in full
    with MemoryStore.open(mem_settings.model_copy(update={"workspace": ws}), writer=False) as store:
        texts = [h.text for h in store.list()]
    assert len(texts) == 2 and any("Action: write_file" in t and "rack 42" in t for t in texts)


def test_no_memory_flag_runs_without_a_store(tmp_path):
    ws = tmp_path / "ws"
    script = tmp_path / "s.json"
    script.write_text(json.dumps([decision("finish", "done", reason="ok")]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    proc = subprocess.run([AUTOGPT, "run", "x", "-c", "--no-memory", "--workspace", str(ws), "--model",
                           f"scripted/{script}"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (ws / "agents" / "autogpt" / "memory").exists()


def test_a_corrupt_store_stops_the_run_with_one_line(tmp_path):
    ws = tmp_path / "ws"
    mem = ws / "agents" / "autogpt" / "memory"
    mem.mkdir(parents=True)
    (mem / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    before = (mem / "chroma.sqlite3").read_bytes()
    script = tmp_path / "s.json"
    script.write_text(json.dumps([decision("finish", "done", reason="ok")]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    proc = subprocess.run([AUTOGPT, "run", "x", "-c", "--workspace", str(ws), "--model", f"scripted/{script}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert (mem / "chroma.sqlite3").read_bytes() == before
