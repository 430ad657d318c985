"""Code blocks in the sandbox, and the tool <-> block adapters."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from forge.blocks.adapters import ToolBlock, block_as_tool, run_block, tool_blocks
from forge.blocks.base import Block, BlockContext
from forge.blocks.code import CodeExecute, ShellCommand
from forge.blocks.credentials import CredentialStore
from forge.blocks.io import GenerateReport
from forge.blocks.logic import Calculator
from forge.errors import PathOutsideWorkspaceError, PolicyViolationError, ToolError
from forge.tools.base import ToolContext, ToolRegistry

HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()
needs_bwrap = [pytest.mark.sandbox, pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")]


@pytest.fixture
def ctx(settings, tmp_path: Path) -> BlockContext:
    settings.code_timeout = 10
    settings.code_max_processes = 32
    files = tmp_path / "files"
    files.mkdir()
    return BlockContext(workspace=files, settings=settings, credentials=CredentialStore(None, {}))


def run(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    return asyncio.run(run_block(block, data, ctx))


# code_execute / shell_command ------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_code_execute_runs_in_the_files_folder(ctx, mode) -> None:
    ctx.settings.sandbox = mode
    code = "import sys\nopen('made.txt', 'w').write('x')\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)"
    out = dict(run(CodeExecute, {"code": code}, ctx))
    assert out["exit_code"] == 3
    assert "out" in out["stdout"] and "err" in out["stdout"]
    assert out["stderr"] == ""
    assert (ctx.workspace / "made.txt").read_text() == "x"


@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=needs_bwrap)])
def test_code_execute_isolated_and_limited(ctx, mode, tmp_path) -> None:
    ctx.settings.sandbox = mode
    outside = tmp_path / "outside.txt"
    code = (
        "import socket\n"
        f"try:\n    open({str(outside)!r}, 'w').write('escaped')\nexcept OSError as e:\n    print('write refused')\n"
        "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\nexcept OSError:\n    print('no network')\n"
    )
    out = dict(run(CodeExecute, {"code": code}, ctx))
    assert "write refused" in out["stdout"] and "no network" in out["stdout"]
    assert not outside.exists()
    ctx.settings.code_timeout = 1
    out = dict(run(CodeExecute, {"code": "while True: pass"}, ctx))
    assert out["exit_code"] == -1 and "time limit" in out["stderr"]


def test_code_execute_only_python(ctx) -> None:
    with pytest.raises(Exception, match="language"):
        run(CodeExecute, {"code": "echo hi", "language": "bash"}, ctx)


@pytest.mark.parametrize(
    ("command", "rule"),
    [("rm -rf /", "'rm' is denylisted"), ("ls | wc", "no pipes"), ("curl http://x", "denylisted"),
     ("ls; echo hi", "chaining"), ("nosuchtool", "not in the allowlist")],
)
def test_shell_command_policy_refusal_fails_the_node(ctx, command, rule) -> None:
    with pytest.raises(PolicyViolationError, match=rule):
        run(ShellCommand, {"command": command}, ctx)


@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_shell_command_allowed_runs(ctx, mode) -> None:
    ctx.settings.sandbox = mode
    (ctx.workspace / "notes.txt").write_text("a\nb\nc\n")
    out = dict(run(ShellCommand, {"command": "wc -l notes.txt"}, ctx))
    assert out["exit_code"] == 0 and out["stdout"].strip() == "3 notes.txt"


# tools as blocks -------------------------------------------------------------------------------
def test_tool_blocks_cover_the_registry() -> None:
    blocks = {b.id: b for b in tool_blocks()}
    names = set(ToolRegistry.from_plugins().names()) - {"finish", "ask_user"}
    assert set(blocks) == {f"tool_{n}" for n in names}
    read = blocks["tool_read_file"]
    assert issubclass(read, ToolBlock) and read.cacheable is False
    assert read.input_names() == ["path", "offset"] and read.output_names() == ["result"]
    assert read.describe()["description"].startswith("Read a text file")


def test_tool_block_read_file(ctx) -> None:
    read = {b.id: b for b in tool_blocks()}["tool_read_file"]
    (ctx.workspace / "a.txt").write_text("hello tool")
    assert run(read, {"path": "a.txt"}, ctx) == [("result", "hello tool")]
    with pytest.raises(PathOutsideWorkspaceError):
        run(read, {"path": "../x"}, ctx)
    with pytest.raises(Exception, match="offset"):
        run(read, {"path": "a.txt", "offset": -1}, ctx)  # the tool's own schema validates the config


# blocks as tools -------------------------------------------------------------------------------
def test_block_as_tool_calculator(ctx) -> None:
    tool = block_as_tool(Calculator)
    assert tool.name == "calculator"
    assert tool.parameters_schema()["required"] == ["expression"]
    assert tool.parameters_schema()["properties"]["expression"]["description"].startswith("e.g.")
    assert tool.signature().startswith("calculator(expression: string)")
    tctx = ToolContext(workspace=ctx.workspace, settings=ctx.settings)
    assert tool(tctx, {"expression": "6 * 7"}) == "42"
    with pytest.raises(ToolError, match="invalid arguments for calculator"):
        tool(tctx, {"expr": "1"})
    with pytest.raises(ToolError, match="unknown name"):
        tool(tctx, {"expression": "x"})


def test_block_as_tool_inside_a_running_loop(ctx) -> None:
    tool = block_as_tool(Calculator)
    tctx = ToolContext(workspace=ctx.workspace, settings=ctx.settings)

    async def call() -> str:
        return str(tool(tctx, {"expression": "2 ** 10"}))

    assert asyncio.run(call()) == "1024"


def test_block_as_tool_multiple_outputs_and_defaults(ctx) -> None:
    tool = block_as_tool(GenerateReport)
    schema = tool.parameters_schema()
    assert "required" not in schema and schema["properties"]["format"]["enum"] == ["markdown", "html"]
    tctx = ToolContext(workspace=ctx.workspace, settings=ctx.settings)
    result = json.loads(tool(tctx, {"title": "T", "content": "c", "path": "r.md"}))
    assert result == {"report": "# T\n\nc\n", "path": "r.md",
                      "file": {"path": "r.md", "mime_type": "text/markdown", "size": 7}}
    assert (ctx.workspace / "r.md").read_text() == "# T\n\nc\n"


def test_block_tool_in_an_agent_registry(ctx) -> None:
    registry = ToolRegistry([block_as_tool(Calculator)])
    from forge.agent.decision import decision_schema

    schema = json.dumps(decision_schema(registry))
    assert "calculator" in schema and "expression" in schema


def test_every_builtin_block_converts_to_a_tool() -> None:
    import forge.blocks.builtin as builtin

    for name in builtin.__all__:
        block = getattr(builtin, name)
        tool = block_as_tool(block)
        assert list(tool.args_model.model_fields) == block.input_names(), block.id
        # (parameters_schema() is not compared: tools/base.py's _strip_titles also drops a
        # *property* named "title", e.g. generate_report's; reported to its owner.)
        assert tool.parameters_schema()["type"] == "object", block.id
    search = block_as_tool(builtin.WebSearch).parameters_schema()["properties"]["max_results"]
    assert (search["minimum"], search["maximum"], search["default"]) == (1, 20, 5)  # constraints kept


# A node timeout stops the sandboxed code before the retry ------------------------------------------
TICKING = r"""
import subprocess, time, uuid
tag = uuid.uuid4().hex[:8]
child = ("import time\nwhile True:\n    open('attempt-%s.child', 'a').write(repr(time.time()) + '\\n')\n"
         "    time.sleep(0.1)") % tag
subprocess.Popen(['/usr/bin/python3', '-c', child, '{marker}'])
while True:
    with open('attempt-%s.log' % tag, 'a') as f:
        f.write(repr(time.time()) + '\n')
    time.sleep(0.1)
"""


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_node_timeout_kills_the_attempt_before_the_retry(settings, mode) -> None:
    from forge.blocks.registry import BlockRegistry
    from forge.workflow.model import parse_workflow
    from forge.workflow.runs import run_workflow

    settings.sandbox, settings.code_timeout = mode, 30  # the sandbox's own limit is far away
    marker = f"ticking-{uuid.uuid4().hex}"
    workflow = parse_workflow({"name": "ticks", "nodes": [{
        "id": "tick", "block": "code_execute", "config": {"code": TICKING.replace("{marker}", marker)},
        "timeout": 2, "retry": {"count": 1, "backoff": 0},
    }]})
    started = time.monotonic()
    result = asyncio.run(run_workflow(workflow, BlockRegistry([CodeExecute]), settings))
    assert time.monotonic() - started < 15  # not 2 x the sandbox's 30 s: each attempt ended at its timeout
    node = result.nodes["tick"]
    assert node.status == "failed" and node.attempts == 2 and "timed out after 2s" in (node.error or "")
    assert _processes_with(marker) == []  # nothing of either attempt (children included) outlived the run

    files = settings.workflows_dir() / "files"
    logs = sorted(files.glob("attempt-*.log"))
    assert len(logs) == 2  # (a loaded machine may not start a child in time: .child files are not required)
    sizes = {p: p.stat().st_size for p in files.iterdir()}
    time.sleep(0.5)
    assert {p: p.stat().st_size for p in files.iterdir()} == sizes  # no marker grows any more

    spans = []
    for tag in (p.name.removeprefix("attempt-").removesuffix(".log") for p in logs):
        stamps = [float(t) for p in files.glob(f"attempt-{tag}.*") for t in p.read_text().split()]
        spans.append((min(stamps), max(stamps)))
    first, second = sorted(spans)
    assert first[1] < second[0], spans  # the attempts (and their children) never overlapped
