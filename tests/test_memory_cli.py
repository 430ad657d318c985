"""`autogpt memory add|search|list|clear`: in process through Typer, plus the real binary for exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autogpt_cli.main import app
from forge.errors import ConfigError

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
FACTS = [
    "The production database runs PostgreSQL 15 on db-prod-1",
    "Our office cat is named Biscuit",
    "Deployments are frozen every Friday after 14:00",
]


@pytest.fixture
def ws(settings) -> str:  # `settings` strips AUTOGPT_* env and chdirs to tmp
    return str(settings.workspace)


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def test_add_search_list_clear(ws):
    for fact in FACTS:
        r = invoke("memory", "add", fact, "--workspace", ws, "--agent", "ops")
        assert r.exit_code == 0, r.output
        assert "Stored memory" in r.output

    r = invoke("memory", "search", "which Postgres version is in production?", "--top-k", "2",
               "--workspace", ws, "--agent", "ops", "--json")
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)  # stdout is exactly the JSON list
    assert len(hits) == 2 and all(set(h) == {"text", "score", "metadata"} for h in hits)
    assert hits[0]["text"] == FACTS[0] and hits[0]["score"] >= hits[1]["score"]
    assert hits[0]["metadata"]["kind"] == "note"

    r = invoke("memory", "list", "--workspace", ws, "--agent", "ops", "--json", "--limit", "2")
    assert [m["text"] for m in json.loads(r.stdout)] == [FACTS[2], FACTS[1]]
    r = invoke("memory", "list", "--workspace", ws, "--agent", "ops")
    assert "3 of 3 memories" in r.stdout and "Biscuit" in r.stdout

    # Another agent has its own memory.
    r = invoke("memory", "search", "postgres", "--workspace", ws, "--agent", "other", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []

    r = invoke("memory", "clear", "--workspace", ws, "--agent", "ops")  # CliRunner's stdin is no tty
    assert isinstance(r.exception, ConfigError) and "pass --yes" in str(r.exception)
    r = invoke("memory", "list", "--workspace", ws, "--agent", "ops", "--json")
    assert len(json.loads(r.stdout)) == 3

    r = invoke("memory", "clear", "--yes", "--workspace", ws, "--agent", "ops")
    assert r.exit_code == 0 and "Deleted 3 memories" in r.stdout
    r = invoke("memory", "list", "--workspace", ws, "--agent", "ops", "--json")
    assert json.loads(r.stdout) == []


def test_search_table_output(ws):
    invoke("memory", "add", FACTS[1], "--workspace", ws)
    r = invoke("memory", "search", "pet cat name", "--workspace", ws)
    assert r.exit_code == 0 and "Biscuit" in r.stdout and "score" in r.stdout


def test_real_cli_clear_without_yes_on_pipe_is_one_line_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    ws = str(tmp_path / "ws")
    r = subprocess.run([AUTOGPT, "memory", "add", "keep me", "--workspace", ws], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([AUTOGPT, "memory", "clear", "--workspace", ws], env=env, cwd=tmp_path, input="y\n",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "pass --yes" in r.stderr
    r = subprocess.run([AUTOGPT, "memory", "search", "keep", "--json", "--workspace", ws], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert [h["text"] for h in json.loads(r.stdout)] == ["keep me"]


def test_cli_import_stays_light():
    code = ("import sys, autogpt_cli.main; "
            "heavy = [m for m in ('chromadb', 'onnxruntime', 'tokenizers', 'forge.memory.store') if m in sys.modules]; "
            "print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


HOLDER = """
import sys
from forge.config import Settings
from forge.memory.store import MemoryStore
store = MemoryStore.open(Settings(workspace={ws!r}, agent_name="ops", _env_file=None))
print("ready", flush=True)
sys.stdin.readline()
store.close()
"""


def test_hints_name_the_option_of_the_command_run(tmp_path):
    """`run` picks the agent with --ai-name, `memory` commands with --agent: each error names its own."""
    from forge.models.scripted import decision

    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    ws = str(tmp_path / "ws")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(ws=ws)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        script = tmp_path / "s.json"
        script.write_text(json.dumps([decision("finish", "done", reason="ok")]))
        runs = {
            "--ai-name": [AUTOGPT, "run", "x", "-c", "--workspace", ws, "--ai-name", "ops", "--model",
                          f"scripted/{script}"],
            "--agent": [AUTOGPT, "memory", "add", "a fact", "--workspace", ws, "--agent", "ops"],
        }
        for option, cmd in runs.items():
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
            assert r.returncode == 2, r.stderr
            assert f"in use by pid {holder.pid}" in r.stderr and f"use {option} ops-2" in r.stderr
            other = "--agent" if option == "--ai-name" else "--ai-name"
            assert other not in r.stderr and r.stderr.count("\n") == 1
    finally:
        holder.communicate("\n", timeout=60)
