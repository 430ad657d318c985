"""AgentClient against a real `autogpt serve` with the scripted model (loopback)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ap_helpers import Server
from benchmark_helpers import decision, write_script, writes_then_finishes

from benchmark import client as client_module
from benchmark.client import AgentClient, AgentProtocolError, AgentUnreachableError, CutoffReachedError, artifact_path
from forge.protocol.models import Artifact


@pytest.fixture
def server(tmp_path: Path):
    script = [*writes_then_finishes("hello.txt", "Hello World!")]
    srv = Server(tmp_path / "ws", write_script(tmp_path / "s.json", script)).start()
    yield srv
    srv.stop()


def test_execute_runs_a_task_to_its_end(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)  # lists take several pages

    async def go() -> None:
        async with AgentClient(server.url) as agent:
            output = await agent.execute("Write hello.txt")
            assert agent.task_id is not None
            assert [s.is_last for s in agent.steps] == [False, False, True]
            assert "Run ended (finished)" in output
            assert agent.steps[0].additional_output is not None
            assert agent.steps[0].additional_output["use_tool"]["name"] == "write_file"
            assert len(await agent.list_steps()) == 3
            for i in range(3):
                await agent.upload(f"in {i}".encode(), file_name=f"in{i}.txt", relative_path="inputs")
            names = sorted(a.relative_path or "" for a in await agent.artifacts())
            assert names == ["hello.txt", "inputs/in0.txt", "inputs/in1.txt", "inputs/in2.txt"]
            written = await agent.download_all(tmp_path / "dl")
            assert (tmp_path / "dl" / "hello.txt").read_text() == "Hello World!"
            assert (tmp_path / "dl" / "inputs" / "in2.txt").read_text() == "in 2"
            assert len(written) == 4
            assert agent.wait_s > 0
            with pytest.raises(AgentProtocolError, match="HTTP 409"):
                await agent.step("y")  # the task has ended

    asyncio.run(go())


def test_cutoff_and_unreachable(tmp_path: Path) -> None:
    script = [decision("execute_python", code="import time; time.sleep(5)"), decision("finish", reason="x")]
    srv = Server(tmp_path / "ws", write_script(tmp_path / "s.json", script)).start()

    async def go() -> None:
        async with AgentClient(srv.url + "/ap/v1/") as agent:
            with pytest.raises(CutoffReachedError, match="cutoff of 1 s"):
                await agent.execute("sleep", cutoff=1)
        srv.stop()
        async with AgentClient(srv.url) as agent:
            with pytest.raises(AgentUnreachableError, match="no answer from the agent"):
                await agent.create_task("anything")

    try:
        asyncio.run(go())
    finally:
        srv.stop()


def test_bearer_key(tmp_path: Path) -> None:
    srv = Server(tmp_path / "ws", write_script(tmp_path / "s.json", []), env={"AUTOGPT_API_KEY": "k3y"}).start()
    try:
        async def go() -> None:
            async with AgentClient(srv.url) as agent:
                with pytest.raises(AgentProtocolError, match="401"):
                    await agent.create_task("x")
            async with AgentClient(srv.url, api_key="k3y") as agent:
                assert (await agent.create_task("x")).task_id

        asyncio.run(go())
    finally:
        srv.stop()


def _artifact(name: str, rel: str | None) -> Artifact:
    return Artifact.model_validate({"artifact_id": "a", "agent_created": True, "file_name": name,
                                    "relative_path": rel, "created_at": "2026-01-01T00:00:00Z",
                                    "modified_at": "2026-01-01T00:00:00Z"})


def test_artifact_paths_from_either_server_style() -> None:
    assert str(artifact_path(_artifact("a.txt", "a.txt"))) == "a.txt"  # ours: the path with its name
    assert str(artifact_path(_artifact("a.txt", "sub/a.txt"))) == "sub/a.txt"
    assert str(artifact_path(_artifact("a.txt", "sub"))) == "sub/a.txt"  # AutoGPT's Forge: the folder
    assert str(artifact_path(_artifact("a.txt", None))) == "a.txt"
    assert str(artifact_path(_artifact("a.txt", "/abs"))) == "abs/a.txt"
    with pytest.raises(AgentProtocolError, match="unsafe path"):
        artifact_path(_artifact("x", "../../etc"))
