"""Input/output blocks: user_input, display_result, generate_report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from forge.blocks.adapters import run_block
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.io import DisplayResult, GenerateReport, UserInput
from forge.errors import ConfigError, PathOutsideWorkspaceError


@pytest.fixture
def ctx(settings, tmp_path: Path) -> BlockContext:
    return BlockContext(workspace=tmp_path / "files", settings=settings, credentials=CredentialStore(None, {}))


def run(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    return asyncio.run(run_block(block, data, ctx))


# user_input ----------------------------------------------------------------------------------
def test_user_input_from_run_inputs_wins(ctx) -> None:
    ctx.extras["inputs"] = {"topic": "owls"}
    ctx.ask_user = lambda q: pytest.fail("must not ask when --input gave the value")
    assert run(UserInput, {"name": "topic", "default": "cats"}, ctx) == [("value", "owls")]


def test_user_input_asks_the_user(ctx) -> None:
    asked: list[str] = []
    ctx.ask_user = lambda q: asked.append(q) or "bees"
    assert run(UserInput, {"name": "topic", "prompt": "Which topic?", "default": "cats"}, ctx) == [("value", "bees")]
    assert asked == ["Which topic? [cats]"]


def test_user_input_empty_answer_falls_back_to_default(ctx) -> None:
    ctx.ask_user = lambda q: "  "
    assert run(UserInput, {"name": "n", "default": 3}, ctx) == [("value", 3)]


def test_user_input_default_without_user(ctx) -> None:
    assert run(UserInput, {"name": "topic", "default": "cats"}, ctx) == [("value", "cats")]


def test_user_input_missing_names_the_flag(ctx) -> None:
    with pytest.raises(ConfigError, match=r"--input topic=\.\.\."):
        run(UserInput, {"name": "topic"}, ctx)
    assert UserInput.cacheable is False


# display_result ------------------------------------------------------------------------------
def test_display_result_passes_value_and_formats_text(ctx) -> None:
    out = run(DisplayResult, {"value": {"b": [1, 2]}, "label": "Totals"}, ctx)
    assert out[0] == ("value", {"b": [1, 2]})
    assert out[1] == ("text", 'Totals\n{\n  "b": [\n    1,\n    2\n  ]\n}')
    assert dict(run(DisplayResult, {"value": "plain"}, ctx))["text"] == "plain"
    assert DisplayResult.default_output() == "value"


# generate_report -----------------------------------------------------------------------------
def test_report_markdown(ctx) -> None:
    data = {
        "title": "Weekly",
        "content": "Intro *text*.",
        "sections": [{"heading": "Numbers", "body": {"n": 3}}, {"heading": "Notes", "body": "All good."}],
        "data": [{"name": "a|b", "n": 1}, {"name": "c", "n": 2}],
    }
    [(name, report)] = run(GenerateReport, data, ctx)
    assert name == "report"
    assert report.startswith("# Weekly\n\nIntro *text*.\n\n## Numbers\n\n```json\n{\n  \"n\": 3\n}\n```")
    assert "## Notes\n\nAll good." in report
    assert "| name | n |\n| --- | --- |\n| a\\|b | 1 |\n| c | 2 |" in report


def test_report_html_is_escaped_and_self_contained(ctx) -> None:
    evil = "<script>alert(1)</script>"
    data = {"title": f"T {evil}", "content": f"Hello **world** {evil}", "format": "html",
            "sections": [{"heading": evil, "body": "[x](javascript:alert(1))"}]}
    report = dict(run(GenerateReport, data, ctx))["report"]
    assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")
    assert "<script>" not in report
    assert "&lt;script&gt;" in report
    assert "<strong>world</strong>" in report  # markdown rendered
    assert 'href="javascript:' not in report
    assert "<title>T &lt;script&gt;alert(1)&lt;/script&gt;</title>" in report
    assert "http" not in report.replace('lang="en"', "")  # nothing loaded from elsewhere


def test_report_saved_in_workspace(ctx) -> None:
    out = dict(run(GenerateReport, {"title": "R", "content": "x", "path": "reports/r.md"}, ctx))
    assert out["path"] == "reports/r.md"
    assert (ctx.workspace / "reports" / "r.md").read_text() == out["report"]
    with pytest.raises(PathOutsideWorkspaceError):
        run(GenerateReport, {"title": "R", "path": "../r.md"}, ctx)
