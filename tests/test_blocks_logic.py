"""calculator and condition blocks, and the built-in registry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import ValidationError

from forge.blocks.adapters import run_block
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.logic import Calculator, Condition
from forge.errors import ToolError


@pytest.fixture
def ctx(settings, tmp_path) -> BlockContext:
    return BlockContext(workspace=tmp_path / "files", settings=settings, credentials=CredentialStore(None, {}))


def run(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    return asyncio.run(run_block(block, data, ctx))


def calc(expression: str, ctx: BlockContext) -> Any:
    [(name, value)] = run(Calculator, {"expression": expression}, ctx)
    assert name == "result"
    return value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 ** 3 ** 2", 512),  # right-associative
        ("-2 ** 2", -4),  # unary minus binds looser than **
        ("7 // 2 + 7 % 3", 4),
        ("10 / 4", 2.5),
        ("sqrt(16) + abs(-3) + floor(2.7) + ceil(2.1)", 12),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
    ],
)
def test_calculator_arithmetic(ctx, expression, expected) -> None:
    assert calc(expression, ctx) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("(1).__class__", "attribute access"),
        ("math.sqrt(4)", "not allowed"),
        ("open('f')", "function 'open' is not allowed"),
        ("'a' * 3", "only numbers"),
        ("[1, 2]", "List is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("1 / 0", "division by zero"),
        ("sqrt(-1)", "math error"),
        ("(-8) ** 0.5", "complex"),
        ("2 +", "not a valid expression"),
        ("round(number=1.5)", "positional"),
    ],
)
def test_calculator_refuses(ctx, expression, message) -> None:
    with pytest.raises(ToolError, match=message.replace("(", r"\(")):
        calc(expression, ctx)


def test_calculator_refuses_huge_powers_quickly(ctx) -> None:
    started = time.monotonic()
    for expression in ("9**9**9", "10 ** 100000", "2 ** 4000 * 2 ** 4000"):
        with pytest.raises(ToolError, match="digits"):
            calc(expression, ctx)
    with pytest.raises(ToolError, match="too large"):
        calc("10.0 ** 400", ctx)
    with pytest.raises(ToolError, match="longer than"):
        calc("1+" * 300 + "1", ctx)
    assert time.monotonic() - started < 2
    assert calc("2 ** 100", ctx) == 2**100  # big but reasonable


def test_calculator_never_calls_eval(ctx, monkeypatch) -> None:
    import builtins

    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    assert calc("1 + 1", ctx) == 2


# condition -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "op", "threshold", "branch"),
    [
        (5, ">", 3, "true"),
        (3, ">", 5, "false"),
        ("10", ">", "9", "true"),  # numeric strings compare as numbers, not as text ("10" < "9")
        (2.5, "<", 3, "true"),
        (3, ">=", 3, "true"),
        (3, "<=", 2, "false"),
        ("3.0", "==", 3, "true"),
        ("abc", "==", "abc", "true"),
        ("abc", "!=", "abd", "true"),
        ("abc", "==", "ABC", "false"),
        (True, "==", "true", "true"),
        ({"a": 1}, "==", {"a": 1}, "true"),
    ],
)
def test_condition_branches(ctx, value, op, threshold, branch) -> None:
    out = run(Condition, {"value": value, "operator": op, "threshold": threshold}, ctx)
    assert out == [(branch, value)]  # only the taken branch, carrying the value


def test_condition_ordering_text_is_an_error(ctx) -> None:
    with pytest.raises(ToolError, match="need numbers"):
        run(Condition, {"value": "abc", "operator": ">", "threshold": "abd"}, ctx)


def test_condition_invalid_operator_is_a_schema_error(ctx) -> None:
    with pytest.raises(ValidationError, match="operator"):
        run(Condition, {"value": 1, "operator": "=>", "threshold": 2}, ctx)
    schema = Condition.input_schema()
    assert schema["properties"]["operator"]["enum"] == [">", "<", ">=", "<=", "==", "!="]


# registry ------------------------------------------------------------------------------------
EXPECTED_IDS = {
    "llm_call", "text_completion", "embedding", "web_search", "web_scrape", "http_request", "text_split",
    "text_template", "json_parse", "csv_read", "csv_write", "file_read", "file_write", "calculator",
    "condition", "user_input", "display_result", "generate_report", "code_execute", "shell_command", "agent",
}


def test_builtin_blocks_registered_with_schemas() -> None:
    from forge.blocks.registry import BlockRegistry

    registry = BlockRegistry.from_plugins()
    assert EXPECTED_IDS <= set(registry.ids())
    assert "tool_read_file" in registry and "tool_finish" not in registry and "tool_ask_user" not in registry
    for block in registry:
        info = block.describe()
        assert info["description"], block.id
        assert info["categories"], block.id
        assert block.default_output() in block.output_names(), block.id
        if block.Input.model_fields:
            assert block.default_input() in block.input_names(), block.id
    assert Calculator.Input.model_json_schema()["additionalProperties"] is False  # config typos are caught
