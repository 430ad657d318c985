"""Data and file blocks: text_split, text_template, json_parse, csv_read/csv_write, file_read/file_write."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from forge.blocks.adapters import run_block
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.data import CSVRead, CSVWrite, JSONParse, TextSplit, TextTemplate
from forge.blocks.files import FileRead, FileWrite
from forge.errors import ConfigError, PathOutsideWorkspaceError, ToolError


@pytest.fixture
def files(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir()
    return path


@pytest.fixture
def ctx(settings, files: Path) -> BlockContext:
    return BlockContext(workspace=files, settings=settings, credentials=CredentialStore(None, {}))


def run(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    return asyncio.run(run_block(block, data, ctx))


def out(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> dict[str, Any]:
    return dict(run(block, data, ctx))


# text_split ----------------------------------------------------------------------------------
def test_text_split_on_separator_drops_empty_pieces(ctx) -> None:
    assert out(TextSplit, {"text": "a\n\nb\n\n\n\nc", "separator": "\n\n"}, ctx)["chunks"] == ["a", "b", "c"]


def test_text_split_by_size_with_overlap(ctx) -> None:
    chunks = out(TextSplit, {"text": "abcdefghij", "chunk_size": 4, "overlap": 1}, ctx)["chunks"]
    assert chunks == ["abcd", "defg", "ghij"]
    assert out(TextSplit, {"text": "abcdefgh", "chunk_size": 4}, ctx)["chunks"] == ["abcd", "efgh"]
    assert out(TextSplit, {"text": ""}, ctx)["chunks"] == []


def test_text_split_overlap_must_be_smaller(ctx) -> None:
    with pytest.raises(ValidationError, match="overlap must be smaller"):
        run(TextSplit, {"text": "x", "chunk_size": 2, "overlap": 2}, ctx)


# text_template -------------------------------------------------------------------------------
def test_text_template_renders_text_and_values(ctx) -> None:
    data = {"template": "{{ topic }}: {{ text | upper }} ({{ items | join(', ') }})",
            "values": {"topic": "News", "items": [1, 2]}, "text": "hello"}
    assert out(TextTemplate, data, ctx) == {"text": "News: HELLO (1, 2)"}


def test_text_template_undefined_is_an_error(ctx) -> None:
    with pytest.raises(ToolError, match="undefined.*'nme'"):
        run(TextTemplate, {"template": "Hi {{ nme }}", "values": {"name": "x"}}, ctx)


def test_text_template_syntax_error_names_the_line(ctx) -> None:
    with pytest.raises(ConfigError, match="line 2"):
        run(TextTemplate, {"template": "ok\n{% if %}"}, ctx)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ text.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_text_template_sandbox_blocks_dunders(ctx, template) -> None:
    with pytest.raises(ToolError, match="refused by the sandbox.*unsafe"):
        run(TextTemplate, {"template": template, "text": "x"}, ctx)


BOMBS = {
    "string repeat": "{{ 'a' * 10**8 }}",
    "list repeat": "{{ [1] * 10**8 }}",
    "power": "{{ 2 ** (10**9) }}",
    "~ doubling": "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "+ doubling": "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "list doubling": "{% set ns = namespace(l=[0]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
    "squaring": "{% set ns = namespace(n=3) %}{% for i in range(60) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
    "repeat in a loop": "{% for i in range(100000) %}{{ 'x' * 999999 }}{% endfor %}",
    "captured block": "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set s %}{{ ns.s }}{{ ns.s }}"
                      "{% endset %}{% set ns.s = s %}{% endfor %}",
    "huge range": "{{ range(10**9) | list }}",
    "str method": "{{ 'a'.center(10**8) }}",
    "filter": "{{ 'a' | center(10**8) }}",
    "format width": "{{ '{:>100000000}'.format('a') }}",
    "format field": "{{ '{:>{w}}'.format('a', w=10**8) }}",
    "percent width": "{{ '%100000000s' % 'a' }}",
    "percent star": "{{ '%*s' % (10**8, 'a') }}",
    "replace": "{{ ('a' * 999999) | replace('a', 'bbbbbbbbbb') }}",
    "indent": "{{ ('a\\n' * 400000) | indent(1000) }}",
    "join": "{{ range(100000) | join('x' * 100000) }}",
    "batch padding": "{{ [1] | batch(10**8, 'x') | list }}",
    "lipsum": "{{ lipsum(100000) }}",
}


@pytest.mark.parametrize("template", BOMBS.values(), ids=BOMBS.keys())
def test_text_template_bombs_fail_fast_with_one_line_and_bounded_memory(ctx, template) -> None:
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ToolError, match="^template (refused: |needs more than 256 MB|failed: OverflowError: Range "
                                        "too big)") as info:
        run(TextTemplate, {"template": template, "text": "x"}, ctx)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 10
    # The work happened in the child: this process did not grow (ru_maxrss is in KiB).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024


def test_text_template_bombs_memory_is_bounded_in_a_fresh_process() -> None:
    """Every bomb rendered by one fresh process: its own peak and its children's (the renderers)
    stay small. (In pytest's own process, children's peaks include other tests' subprocesses.)"""
    import json
    import subprocess
    import sys

    script = (
        "import asyncio, json, resource, sys\n"
        "from forge.blocks.data import render_template\n"
        "errors = []\n"
        "for t in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        asyncio.run(render_template(t, {}))\n"
        "    except Exception as e:\n"
        "        errors.append(str(e))\n"
        # VmHWM, not RUSAGE_SELF: ru_maxrss survives exec, so it would show pytest's size at the fork.
        "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]\n"
        "print(json.dumps({'errors': errors, 'self_kb': int(hwm.split()[1]),\n"
        "                  'children_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, json.dumps(list(BOMBS.values()))],
                          capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    assert len(report["errors"]) == len(BOMBS) and all(e.startswith("template ") for e in report["errors"])
    assert report["children_kb"] < 300 * 1024  # RLIMIT_AS is 256 MB
    assert report["self_kb"] < 200 * 1024


def test_text_template_limits_still_allow_real_work(ctx) -> None:
    template = ("{% for row in rows %}{{ loop.index }}. {{ row.name | title }}: {{ '%.1f' % row.score }}"
                "{{ '\\n' }}{% endfor %}{{ '-' * 20 }}\n{{ ('ab' * 1000) | length }} {{ 2 ** 64 }}")
    rows = [{"name": f"name {i}", "score": i / 3} for i in range(500)]
    text = out(TextTemplate, {"template": template, "values": {"rows": rows}}, ctx)["text"]
    assert text.startswith("1. Name 0: 0.0\n2. Name 1: 0.3\n")
    assert text.endswith("-" * 20 + "\n2000 18446744073709551616")
    big = out(TextTemplate, {"template": "{{ text }}{{ 'y' * 400000 }}", "text": "x" * 500_000}, ctx)["text"]
    assert len(big) == 900_000


def test_text_template_cpu_and_wall_limits_stop_the_child() -> None:
    from forge.blocks.data import TemplateLimits, render_template

    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(ToolError, match=r"^template used more than 1s of CPU and was stopped"):
        asyncio.run(render_template(loops, {}, TemplateLimits(cpu_s=1, wall_s=30)))
    with pytest.raises(ToolError, match=r"^template rendering took longer than 0.5s and was stopped"):
        asyncio.run(render_template(loops, {}, TemplateLimits(cpu_s=30, wall_s=0.5)))
    assert not _template_children()


def test_text_template_child_is_killed_when_the_node_times_out(settings) -> None:
    from forge.blocks.registry import BlockRegistry
    from forge.workflow.model import parse_workflow
    from forge.workflow.runs import run_workflow

    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    workflow = parse_workflow({"name": "t", "nodes": [
        {"id": "bomb", "block": "text_template", "config": {"template": loops}, "timeout": 1}]})
    result = asyncio.run(run_workflow(workflow, BlockRegistry([TextTemplate]), settings))
    assert result.nodes["bomb"].status == "failed"
    assert result.nodes["bomb"].error.startswith("timed out after 1s")
    assert not _template_children()


def _template_children() -> list[str]:
    """Processes still running template_sandbox.py (there should be none once a render ended)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "template_sandbox.py" in text:
            found.append(text)
    return found


# json_parse ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2]}',
        '```json\n{"a": [1, 2]}\n```',
        'Here you go:\n```\n{"a": [1, 2]}\n```\nAnything else?',
        '  \n{"a": [1, 2]}\n',
    ],
)
def test_json_parse_plain_and_fenced(ctx, text) -> None:
    assert out(JSONParse, {"text": text}, ctx) == {"data": {"a": [1, 2]}}


def test_json_parse_error_has_line_and_column(ctx) -> None:
    with pytest.raises(ToolError, match=r"line 2, column 7: Expecting value"):
        run(JSONParse, {"text": '{"a": 1,\n "b": ]}'}, ctx)


# csv -----------------------------------------------------------------------------------------
def test_csv_round_trip(ctx, files: Path) -> None:
    rows = [{"name": "Ann, Jr.", "n": 1}, {"name": 'say "hi"', "n": 2, "tags": ["x"]}]
    written = out(CSVWrite, {"path": "out/data.csv", "rows": rows}, ctx)
    size = (files / "out" / "data.csv").stat().st_size
    assert written == {"path": "out/data.csv", "file": {"path": "out/data.csv", "mime_type": "text/csv", "size": size}}
    assert (files / "out" / "data.csv").read_text().splitlines()[0] == "name,n,tags"
    result = out(CSVRead, {"path": "out/data.csv"}, ctx)
    assert result["columns"] == ["name", "n", "tags"]
    assert result["rows"] == [
        {"name": "Ann, Jr.", "n": "1", "tags": ""},
        {"name": 'say "hi"', "n": "2", "tags": '["x"]'},
    ]


def test_csv_read_text_and_delimiter(ctx) -> None:
    result = out(CSVRead, {"text": "a;b\n1;2\n", "delimiter": ";"}, ctx)
    assert result == {"rows": [{"a": "1", "b": "2"}], "columns": ["a", "b"]}


def test_csv_read_needs_exactly_one_source(ctx) -> None:
    with pytest.raises(ValidationError, match="exactly one of path or text"):
        run(CSVRead, {}, ctx)
    with pytest.raises(ValidationError, match="exactly one of path or text"):
        run(CSVRead, {"path": "a.csv", "text": "a\n1"}, ctx)


# files ---------------------------------------------------------------------------------------
def test_file_write_then_read_and_append(ctx, files: Path) -> None:
    ref = {"path": "notes/a.txt", "mime_type": "text/plain", "size": 4}
    assert out(FileWrite, {"path": "notes/a.txt", "content": "one\n"}, ctx) == {"path": "notes/a.txt", "file": ref}
    out(FileWrite, {"path": "notes/a.txt", "content": "two\n", "mode": "append"}, ctx)
    assert out(FileRead, {"path": "notes/a.txt"}, ctx) == {"content": "one\ntwo\n"}
    out(FileWrite, {"path": "notes/a.txt", "content": "new"}, ctx)
    assert (files / "notes" / "a.txt").read_text() == "new"
    assert FileWrite.cacheable is False and FileWrite.default_input() == "content"


def test_file_read_missing_and_folder(ctx, files: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        run(FileRead, {"path": "nope.txt"}, ctx)
    (files / "sub").mkdir()
    with pytest.raises(ToolError, match="folder"):
        run(FileRead, {"path": "sub"}, ctx)


@pytest.mark.parametrize("block", [FileRead, FileWrite])
def test_file_blocks_confined(ctx, files: Path, tmp_path: Path, block: type[Block]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    sibling = tmp_path / "files-evil"
    sibling.mkdir()
    (sibling / "x.txt").write_text("evil")
    os.symlink(secret, files / "link.txt")
    os.symlink(tmp_path, files / "up")
    escapes = ("../secret.txt", str(secret), "link.txt", "up/secret.txt", "../files-evil/x.txt", "a/../../secret.txt")
    for path in escapes:
        data = {"path": path, "content": "overwritten"} if block is FileWrite else {"path": path}
        with pytest.raises(PathOutsideWorkspaceError):
            run(block, data, ctx)
    assert secret.read_text() == "top secret"
    assert (sibling / "x.txt").read_text() == "evil"


def test_csv_blocks_confined(ctx) -> None:
    with pytest.raises(PathOutsideWorkspaceError):
        run(CSVWrite, {"path": "../x.csv", "rows": [{"a": 1}]}, ctx)
    with pytest.raises(PathOutsideWorkspaceError):
        run(CSVRead, {"path": "/etc/passwd"}, ctx)
