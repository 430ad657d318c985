"""Tool schemas come from hints and docstrings; plugins arrive through entry points."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from typing import Annotated, Literal

import pytest
from pydantic import Field

from forge.agent.decision import decision_schema
from forge.errors import ToolError
from forge.tools.base import ToolContext, ToolRegistry, parse_docstring, tool


@tool
def resize(
    ctx: ToolContext, path: str, width: Annotated[int, Field(ge=1)], mode: Literal["fit", "fill"] = "fit"
) -> str:
    """Resize an image in the workspace.

    Longer explanation that is not part of the one-line description.

    Args:
        path: Image path relative to the workspace.
        width: New width in pixels,
            wrapped onto a second line.
        mode: How to fit the box.
    """
    return f"{path}:{width}:{mode}"


def test_schema_comes_from_hints_and_docstring():
    schema = resize.parameters_schema()
    assert resize.description == "Resize an image in the workspace."
    assert schema["required"] == ["path", "width"]
    assert schema["properties"]["width"] == {
        "description": "New width in pixels, wrapped onto a second line.", "minimum": 1, "type": "integer"
    }
    assert schema["properties"]["mode"]["enum"] == ["fit", "fill"]
    assert "ctx" not in schema["properties"] and resize.takes_ctx
    assert resize.signature() == (
        "resize(path: string, width: integer, mode?: fit|fill) - Resize an image in the workspace."
    )
    spec = resize.function_spec()["function"]
    assert spec["name"] == "resize" and spec["parameters"] == schema


def test_validation_errors_name_the_field():
    with pytest.raises(ToolError, match=r"width: Input should be greater than or equal to 1"):
        resize.validate({"path": "a.png", "width": 0})
    with pytest.raises(ToolError, match="colour: Extra inputs are not permitted"):
        resize.validate({"path": "a.png", "width": 3, "colour": "red"})
    assert resize(None, {"path": "a.png", "width": 3}) == "a.png:3:fit"  # type: ignore[arg-type]


def test_parse_docstring_without_args_section():
    assert parse_docstring("Just one line.") == ("Just one line.", {})
    assert parse_docstring(None) == ("", {})


def test_decision_schema_has_one_strict_branch_per_tool():
    schema = decision_schema([resize])
    (branch,) = schema["anyOf"]
    assert branch["properties"]["tool"] == {"const": "resize"}
    args = branch["properties"]["tool_args"]
    assert args["additionalProperties"] is False
    assert args["properties"]["path"]["maxLength"] > 0  # bounded for constrained decoding
    assert "default" not in args["properties"]["mode"]


def test_builtin_tools_load_through_the_plugins():
    names = ToolRegistry.from_plugins().names()
    assert names == ["read_file", "write_file", "list_folder", "web_search", "read_webpage",
                     "execute_python", "execute_shell", "ask_user", "read_output", "finish",
                     "remember", "recall"]


def test_third_party_tools_load_through_entry_points(tmp_path, monkeypatch):
    """A package's `autogpt` entry point naming a module with a register_tools hook."""
    from forge.plugins import Plugins

    (tmp_path / "shout_plugin.py").write_text(textwrap.dedent('''
        from forge.plugins import hookimpl
        from forge.tools import tool

        @tool
        def shout(text: str) -> str:
            """Shout a text.

            Args:
                text: What to shout.
            """
            return text.upper()

        @hookimpl
        def register_tools(register):
            register(shout)
    '''))
    dist = tmp_path / "shout_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[autogpt]\nshout = shout_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        registry = ToolRegistry.from_plugins(Plugins())
        assert "shout" in registry and "read_file" in registry
        assert registry.get("shout")(None, {"text": "hi"}) == "HI"  # type: ignore[arg-type, misc]
    finally:
        sys.modules.pop("shout_plugin", None)


def test_decision_schema_caps_every_string_for_the_grammar():
    """llama.cpp's grammar compiler crashes on long `{n,m}` repetitions: a tool's own
    maxLength of 2000 (remember) must be capped like unbounded strings are."""
    from forge.agent.decision import ARG_MAX_CHARS, decision_schema
    from forge.tools.memory_tools import remember

    schema = json.dumps(decision_schema(ToolRegistry([remember])))
    assert '"maxLength": 2000' not in schema and f'"maxLength": {ARG_MAX_CHARS}' in schema
