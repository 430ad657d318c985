"""The decision contract (docs/architecture.md): parse, normalise and validate what the model returned.

{"thoughts": {"text", "reasoning", "plan", "criticism"}, "tool": NAME, "tool_args": {...}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from forge.errors import InvalidDecisionError, ToolError
from forge.models.base import LLMResponse
from forge.security.untrusted_text import clean_text
from forge.tools.base import Tool, ToolRegistry

THOUGHT_FIELDS = ("text", "reasoning", "plan", "criticism")
# Bounds for constrained decoding: keep a small model's thoughts short and its strings finite.
THOUGHT_MAX_CHARS = 160
ARG_MAX_CHARS = 600
# Deeper tool arguments are refused: no tool takes them, and they would only strain recursion.
MAX_ARG_DEPTH = 32


class Thoughts(BaseModel):
    text: str = ""
    reasoning: str = ""
    plan: str = ""
    criticism: str = ""


class Decision(BaseModel):
    thoughts: Thoughts = Field(default_factory=Thoughts)
    tool: str
    tool_args: dict[str, Any] = Field(default_factory=dict)

    def call_key(self) -> str:
        """Identity of the action, for stuck detection."""
        return self.tool + json.dumps(self.tool_args, sort_keys=True, default=str)


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def _loads_object(text: str) -> dict[str, Any]:
    text = _FENCE.sub("", text.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise InvalidDecisionError("reply is not a JSON object; answer with one JSON object only")
    obj = _loads(text[start : end + 1], "reply")
    if not isinstance(obj, dict):
        raise InvalidDecisionError("reply must be a JSON object")
    return obj


def _loads(text: str, what: str) -> Any:
    too_deep = InvalidDecisionError(f"{what} nests JSON deeper than {MAX_ARG_DEPTH} levels; use flat arguments")
    try:
        # The embedded model's grammar lets raw newlines into strings (docs/architecture.md).
        value = json.loads(text, strict=False)
    except json.JSONDecodeError as e:
        raise InvalidDecisionError(f"{what} is not valid JSON ({e.msg} at char {e.pos})") from None
    except RecursionError:
        raise too_deep from None
    if _depth(value) > MAX_ARG_DEPTH + 2:  # decision -> tool_args -> the arguments themselves
        raise too_deep
    return value


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_ARG_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _clean_args(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments that any later step can store, show and encode: bounded depth, no lone surrogates."""
    if _depth(args) > MAX_ARG_DEPTH:
        raise InvalidDecisionError(f'"tool_args" nest deeper than {MAX_ARG_DEPTH} levels; use flat arguments')
    text = json.dumps(args, ensure_ascii=False)
    cleaned = clean_text(text)
    return args if cleaned == text else json.loads(cleaned)


def _normalise_thoughts(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        return {"text": raw}
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key in THOUGHT_FIELDS:
        val = raw.get(key, "")
        if isinstance(val, list):
            val = "\n".join(f"- {v}" for v in val)
        out[key] = str(val) if val is not None else ""
    return out


def parse_decision(response: LLMResponse) -> Decision:
    """Build a Decision from a completion: JSON content, or a native tool call plus thoughts."""
    obj: dict[str, Any] = {}
    if response.content and response.content.strip():
        try:
            obj = _loads_object(response.content)
        except InvalidDecisionError:
            if not response.tool_calls:
                raise
            obj = {"thoughts": {"text": response.content.strip()}}
    if response.tool_calls:
        call = response.tool_calls[0]
        args = call.arguments
        if isinstance(args, str):
            args = _loads(args or "{}", "tool call arguments")
        obj = {"thoughts": obj.get("thoughts", obj), "tool": call.name, "tool_args": args}
    elif "command" in obj and "tool" not in obj:  # AutoGPT Classic's spelling
        cmd = obj["command"] if isinstance(obj["command"], dict) else {}
        obj = {"thoughts": obj.get("thoughts"), "tool": cmd.get("name"), "tool_args": cmd.get("args", {})}

    tool_name = obj.get("tool")
    if not isinstance(tool_name, str) or not tool_name:
        raise InvalidDecisionError('decision has no "tool"; name one of the available tools')
    args = obj.get("tool_args") or {}
    if not isinstance(args, dict):
        raise InvalidDecisionError('"tool_args" must be a JSON object of argument names to values')
    thoughts = {k: clean_text(v) for k, v in _normalise_thoughts(obj.get("thoughts")).items()}
    return Decision(thoughts=Thoughts(**thoughts), tool=clean_text(tool_name), tool_args=_clean_args(args))


def validate_decision(decision: Decision, registry: ToolRegistry) -> Tool:
    """Check the tool exists and its args match the schema; return the tool."""
    tool = registry.get(decision.tool)
    if tool is None:
        raise InvalidDecisionError(f"unknown tool {decision.tool!r}; available tools: {', '.join(registry.names())}")
    try:
        tool.validate(decision.tool_args)
    except ToolError as e:
        raise InvalidDecisionError(str(e)) from None
    return tool


def _bound_strings(schema: Any) -> Any:
    """Copy a schema, bounding every string at ARG_MAX_CHARS: a small model may never stop, and
    llama.cpp's grammar compiler expands `{n,m}` repetitions, so a large maxLength from a tool's
    own schema (e.g. 2000) crashes it (measured: segfault at 2000)."""
    if isinstance(schema, dict):
        out = {k: _bound_strings(v) for k, v in schema.items() if k != "default"}
        if out.get("type") == "string" and "enum" not in out:
            out["maxLength"] = min(int(out.get("maxLength", ARG_MAX_CHARS)), ARG_MAX_CHARS)
            if out.get("minLength", 0) > out["maxLength"]:
                out["minLength"] = out["maxLength"]
        return out
    if isinstance(schema, list):
        return [_bound_strings(v) for v in schema]
    return schema


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool's args schema with every local `$ref` (Enums, nested models) replaced by its
    definition: each tool's args become one branch deep inside the decision schema, where a
    `#/$defs/...` pointer no longer resolves (llama.cpp: "Error resolving ref"). A model that
    contains itself is cut at the repeat to a plain object (a grammar cannot be infinite)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(v, seen) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if name in seen or name not in defs:
                return {"type": "object", **resolve(siblings, seen)}
            return {**resolve(defs[name], (*seen, name)), **resolve(siblings, seen)}
        return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}

    return resolve(schema, ())  # type: ignore[no-any-return]


def decision_schema(tools: Iterable[Tool]) -> dict[str, Any]:
    """Strict JSON schema of a whole decision: one anyOf branch per tool with its typed args."""
    thought_props = {k: {"type": "string", "maxLength": THOUGHT_MAX_CHARS} for k in THOUGHT_FIELDS}
    thoughts = {
        "type": "object",
        "properties": thought_props,
        "required": list(THOUGHT_FIELDS),
        "additionalProperties": False,
    }
    branches = []
    for t in tools:
        params = _bound_strings(_inline_refs(t.parameters_schema()))
        args = {
            "type": "object",
            "properties": params.get("properties", {}),
            "required": params.get("required", []),
            "additionalProperties": False,
        }
        branches.append(
            {
                "type": "object",
                "properties": {"thoughts": thoughts, "tool": {"const": t.name}, "tool_args": args},
                "required": ["thoughts", "tool", "tool_args"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": branches}
