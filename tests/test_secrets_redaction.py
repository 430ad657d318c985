"""Known secret values (keys in the environment, stored credentials) and token-shaped text never reach
the model, the long-term memory, the run records or anything the CLI prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge.agent import loop
from forge.agent.agent import Agent
from forge.blocks.credentials import CredentialStore
from forge.memory.store import MemoryStore
from forge.models.scripted import ScriptedModel, decision
from forge.security.secrets import REDACTED, Redactor, workspace_redactor
from forge.tools import builtin
from forge.tools.base import ToolRegistry

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
ENV_KEY = "sk-envkey-0123456789abcdefghij"
TYPED_KEY = "sk-proj-TypedIntoTheGoal0123456789abcdef"  # known to nobody: caught by its shape
STORED = "stored-credential-value-778899"


def test_redactor_values_patterns_and_json_forms():
    r = Redactor(["p@ss\"word\\x99", "short"])
    assert r.text('a p@ss"word\\x99 b') == f"a {REDACTED} b"
    assert r.text("short") == "short"  # too short to be told from an ordinary word
    assert REDACTED in r.text(f"x {TYPED_KEY} y") and "ghp_" not in r.text("ghp_" + "a" * 36)
    data = {"k": 'p@ss"word\\x99', "nested": [{"v": TYPED_KEY}], TYPED_KEY: 1}
    cleaned = r.data(data)
    assert json.dumps(cleaned).count(REDACTED) == 3 and 'p@ss' not in json.dumps(cleaned)
    assert r.text("ordinary text with sk-short and AKIA123") == "ordinary text with sk-short and AKIA123"


def test_workspace_redactor_knows_stored_credentials(tmp_path):
    CredentialStore.for_workspace(tmp_path).set("twitter", {"token": STORED})
    assert workspace_redactor(tmp_path, environ={}).text(f"t={STORED}") == f"t={REDACTED}"


def test_secrets_in_the_goal_reach_neither_model_nor_memory_nor_records(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    CredentialStore.for_workspace(settings.workspace).set("slack", {"token": STORED})
    settings.memory, settings.agent_name = True, "keeper"
    goal = f"use {ENV_KEY} and {TYPED_KEY} and {STORED} to post"
    model = ScriptedModel([decision("write_file", f"echo {ENV_KEY}", path="a.txt", content=STORED),
                           decision("finish", reason=f"done with {TYPED_KEY}")])
    tools = ToolRegistry([builtin.write_file, builtin.finish])
    with MemoryStore.open(settings) as store:
        agent = Agent.start(goal, settings, model, tools, memory=store)
        loop.run(agent)
        memories = [h.text for h in store.list()]
    prompts = json.dumps(model.calls)
    records = "".join(p.read_text() for p in agent.log.dir.iterdir() if p.suffix in (".jsonl", ".json"))
    for secret in (ENV_KEY, TYPED_KEY, STORED):
        assert secret not in prompts
        assert secret not in records
        assert all(secret not in m for m in memories)
    assert memories and REDACTED in prompts and REDACTED in " ".join(memories)


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    env["OPENAI_API_KEY"] = ENV_KEY
    return env


def test_memory_list_and_search_never_print_a_secret(tmp_path, cli_env, settings):
    settings.agent_name = "ops"
    with MemoryStore.open(settings) as store:  # written before the key was known as one, or by another tool
        store.add(f"the deploy key is {ENV_KEY}")
        store.add(f"token {TYPED_KEY} for the registry")
    ws = str(settings.workspace)
    for args in (["list"], ["list", "--json"], ["search", "deploy key"], ["search", "registry token", "--json"]):
        r = subprocess.run([AUTOGPT, "memory", *args, "--agent", "ops", "--workspace", ws], env=cli_env,
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert ENV_KEY not in r.stdout + r.stderr and TYPED_KEY not in r.stdout + r.stderr
        assert REDACTED in r.stdout
    added = subprocess.run([AUTOGPT, "memory", "add", f"remember {ENV_KEY}", "--agent", "ops", "--workspace", ws],
                           env=cli_env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    with MemoryStore.open(settings, writer=False) as store:
        stored = [h.text for h in store.list() if h.text.startswith("remember")]
    assert stored == [f"remember {REDACTED}"]


def test_workflow_json_output_is_redacted(tmp_path, cli_env):
    ws = tmp_path / "ws"
    CredentialStore.for_workspace(ws).set("twitter", {"token": STORED})
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({
        "name": "leak", "nodes": [
            {"id": "t", "block_id": "text_template", "config": {"template": f"{STORED} {ENV_KEY} {{{{ text }}}}",
                                                                   "text": TYPED_KEY}},
            {"id": "show", "block_id": "display_result"}],
        "edges": [{"from": "t", "to": "show"}]}))
    for extra in (["--json"], []):
        r = subprocess.run([AUTOGPT, "workflow", "run", str(flow), *extra, "--workspace", str(ws)], env=cli_env,
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        for secret in (STORED, ENV_KEY, TYPED_KEY):
            assert secret not in r.stdout + r.stderr
        assert REDACTED in r.stdout
    for f in (ws / "workflows" / "runs").rglob("*.json*"):
        if f.name != "workflow.json":  # the copy of the user's own file, kept to resume from
            assert STORED not in f.read_text() and ENV_KEY not in f.read_text()


def test_cli_run_output_and_debug_log_are_redacted(tmp_path, cli_env):
    ws = tmp_path / "ws"
    CredentialStore.for_workspace(ws).set("smtp", {"password": STORED})
    script = tmp_path / "s.json"
    script.write_text(json.dumps([decision("write_file", path="k.txt", content=f"{STORED} {TYPED_KEY}"),
                                  decision("read_file", path="k.txt"), decision("finish", reason="done")]))
    for extra in (["--json", "--debug"], []):
        r = subprocess.run([AUTOGPT, "run", f"keep {TYPED_KEY} safe", "-c", "--no-memory", *extra,
                            "--model", f"scripted/{script}", "--workspace", str(ws)], env=cli_env,
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        for secret in (STORED, TYPED_KEY, ENV_KEY):
            assert secret not in r.stdout + r.stderr
