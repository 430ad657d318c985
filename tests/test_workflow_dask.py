"""The Dask executor gives the same results as in-process, on a loopback LocalCluster."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from forge.blocks import testing
from forge.blocks.base import BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.registry import BlockRegistry
from forge.blocks.testing import TEST_BLOCKS
from forge.errors import ConfigError
from forge.workflow.executors import DaskExecutor, _run_block_remote, make_executor
from forge.workflow.model import parse_workflow
from forge.workflow.runs import run_workflow

USER_BLOCK = '''
from typing import Any
from pydantic import BaseModel
from forge.blocks.base import Block


class Triple(Block):
    id = "triple"

    class Input(BaseModel):
        x: float

    class Output(BaseModel):
        y: float

    async def run(self, input: Any, ctx):
        yield "y", input.x * 3
'''

WORKFLOW = {"name": "dask", "nodes": [
    {"id": "e", "block": "echo", "config": {"text": "abcd"}},
    {"id": "t", "block": "triple"},
    {"id": "many", "block": "emit_many", "config": {"count": 3}},
    {"id": "br", "block": "branch", "config": {"take": False}},
    {"id": "yes", "block": "noop"},
    {"id": "f", "block": "flaky", "config": {"key": "dask-flaky", "failures": 1}, "retry": {"count": 1}},
    {"id": "slow", "block": "sleep", "config": {"seconds": 1}, "timeout": 0.2},
], "edges": [
    {"from": "e", "from_output": "length", "to": "t", "to_input": "x"},
    {"from": "t", "from_output": "y", "to": "br", "to_input": "value"},
    {"from": "br", "from_output": "true", "to": "yes"},
]}


@pytest.fixture
def registry(tmp_path) -> BlockRegistry:
    folder = tmp_path / "blocks"
    folder.mkdir()
    (folder / "user.py").write_text(USER_BLOCK)
    registry = BlockRegistry(TEST_BLOCKS)
    registry.load_dir(folder)
    return registry


def test_same_outputs_as_in_process(settings, registry):
    workflow = parse_workflow(WORKFLOW)

    async def both():
        from distributed import Client, LocalCluster

        local = await run_workflow(workflow, registry, settings)
        testing._FLAKY_ATTEMPTS.clear()
        async with LocalCluster(processes=False, n_workers=1, threads_per_worker=4, dashboard_address=None,
                                host="127.0.0.1", protocol="tcp://", asynchronous=True) as cluster:
            async with Client(cluster, asynchronous=True) as client:
                remote = await run_workflow(workflow, registry, settings, executor=DaskExecutor(client=client))
        return local, remote

    local, remote = asyncio.run(both())
    assert remote.outputs() == local.outputs()
    assert remote.outputs()["t"] == {"y": 12.0} and remote.outputs()["many"] == {"item": "item-2", "count": 3}
    assert {n: r.status for n, r in remote.nodes.items()} == {n: r.status for n, r in local.nodes.items()}
    assert remote.nodes["yes"].status == "skipped" and remote.nodes["f"].attempts == 2
    assert remote.nodes["slow"].error.startswith("timed out after 0.2s")


def test_user_blocks_are_shipped_by_value(settings, registry, tmp_path):
    """A worker without the user's folder can still run the block: the class travels in the payload."""
    block = registry.get("triple")
    ctx = BlockContext(workspace=tmp_path / "files", settings=settings,
                       credentials=CredentialStore.for_workspace(settings.workspace), node_id="t")
    payload = DaskExecutor._payload(block, block.Input(x=2), ctx)
    module = sys.modules.pop(block.__module__)
    try:
        assert _run_block_remote(payload) == [("y", 6.0)]
    finally:
        sys.modules[block.__module__] = module
    assert Path(tmp_path / "files").is_dir()


def test_unreachable_scheduler_is_a_config_error(settings, registry):
    executor = DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        asyncio.run(executor.start())
    with pytest.raises(ConfigError, match="--scheduler"):
        make_executor("dask", None)
