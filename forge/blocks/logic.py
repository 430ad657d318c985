"""Logic blocks: a safe calculator and a two-way condition. Neither ever calls eval()."""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, EmptyModel
from forge.errors import ToolError

MAX_EXPRESSION_CHARS = 500
MAX_RESULT_DIGITS = 1000  # 9**9**9 would have ~370 million digits: refused before computing

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_ALLOWED = "numbers, + - * / // % **, parentheses, pi, e and " + ", ".join(f"{f}()" for f in _FUNCTIONS)


class CalculatorError(ToolError):
    pass


def evaluate(expression: str) -> int | float:
    """Evaluate arithmetic by walking its syntax tree; anything outside the whitelist is refused."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters; shorten it")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise CalculatorError(f"not a valid expression ({e.msg}); allowed: {_ALLOWED}") from None
    try:
        result = _eval(tree.body)
    except ZeroDivisionError:
        raise CalculatorError("division by zero") from None
    except OverflowError:
        raise CalculatorError("the result is too large for a floating-point number") from None
    except (ValueError, TypeError) as e:
        raise CalculatorError(f"math error: {e}") from None
    if isinstance(result, complex):
        raise CalculatorError("the result is a complex number (e.g. a negative number to a fractional power)")
    if isinstance(result, float) and not math.isfinite(result):
        raise CalculatorError("the result is not a finite number")
    if isinstance(result, int) and result.bit_length() > MAX_RESULT_DIGITS * 3.33:
        raise CalculatorError(f"the result has more than {MAX_RESULT_DIGITS} digits")
    return result


def _eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"only numbers are allowed, not {node.value!r}")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise CalculatorError(f"unknown name {node.id!r}; allowed: {_ALLOWED}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise CalculatorError(f"function {what!r} is not allowed; allowed: {_ALLOWED}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise CalculatorError(f"{node.func.id}() takes plain positional arguments only")
        return _FUNCTIONS[node.func.id](*(_eval(a) for a in node.args))
    if isinstance(node, ast.Attribute):
        raise CalculatorError(f"attribute access ({ast.unparse(node)}) is not allowed; allowed: {_ALLOWED}")
    raise CalculatorError(f"{type(node).__name__} is not allowed in a calculation; allowed: {_ALLOWED}")


def _check_power(base: Any, exponent: Any) -> None:
    """Refuse powers whose result would be huge, before Python spends minutes computing them."""
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if exponent * math.log10(abs(base)) > MAX_RESULT_DIGITS:
            raise CalculatorError(f"result would have more than {MAX_RESULT_DIGITS} digits; use a smaller exponent")


class Calculator(Block):
    id = "calculator"
    name = "Calculator"
    description = f"Evaluate an arithmetic expression safely. Allowed: {_ALLOWED}."
    categories = (BlockCategory.LOGIC, BlockCategory.TOOLS)

    class Input(EmptyModel):
        expression: str = Field(description="e.g. '(2 + 3) * sqrt(16) / 2'")

    class Output(EmptyModel):
        result: int | float = Field(description="The value of the expression.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        yield "result", evaluate(input.expression)


Operator = Literal[">", "<", ">=", "<=", "==", "!="]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def compare(value: Any, op: str, threshold: Any) -> bool:
    """Numbers (or numeric strings) compare as numbers; anything else only with == and !=, as text
    (non-strings as JSON, so True equals "true")."""
    a, b = _number(value), _number(threshold)
    if a is not None and b is not None:
        return _COMPARE[op](a, b)
    if op in ("==", "!="):
        return _COMPARE[op](_text(value), _text(threshold))
    raise ToolError(
        f"cannot order {_text(value)[:40]!r} {op} {_text(threshold)[:40]!r}: "
        "'>', '<', '>=' and '<=' need numbers on both sides; use '==' or '!=' for text"
    )


class Condition(Block):
    id = "condition"
    name = "Condition"
    description = (
        "Compare `value` with `threshold` and pass `value` on through the `true` or the `false` "
        "output; only the branch taken is emitted, so only its downstream nodes run."
    )
    categories = (BlockCategory.LOGIC,)
    main_input = "value"
    main_output = "true"

    class Input(EmptyModel):
        value: Any = Field(description="The value to test (numbers and numeric strings compare as numbers).")
        operator: Operator = Field(description="One of >, <, >=, <=, ==, !=.")
        threshold: Any = Field(description="What to compare the value with.")

    class Output(EmptyModel):
        true: Any = Field(description="The value, when the comparison holds.")
        false: Any = Field(description="The value, when it does not.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        yield ("true" if compare(input.value, input.operator, input.threshold) else "false"), input.value
