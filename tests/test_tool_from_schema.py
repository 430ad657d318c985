"""Tools built from a schema (`Tool.from_schema`): a pydantic model or a JSON schema, no signature.

Blocks become tools this way, so the block's Input model IS the tool's args model: the model sees
the block's own schema and the block's own validation (validators included) checks its arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, field_validator, model_validator

import forge.blocks.builtin as builtin
from forge.agent.decision import decision_schema
from forge.blocks.adapters import block_as_tool, run_block_sync, tool_block
from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput
from forge.blocks.credentials import CredentialStore
from forge.errors import ConfigError, ToolError
from forge.tools.base import Tool, ToolContext, ToolRegistry, _strip_titles


@pytest.fixture
def tctx(settings) -> ToolContext:
    return ToolContext(workspace=settings.workspace, settings=settings)


class Greet(Block):
    """A block whose Input carries what a forged signature would lose: a field validator, a
    model validator, constraints, a default and pydantic's default extra="ignore"."""

    id = "greet"
    name = "Greet"
    description = "Greet someone,\n   a number of times."
    categories = (BlockCategory.TOOLS,)
    seen: list[BaseModel] = []

    class Input(BaseModel):
        who: str = Field(min_length=1, description="Whom to greet.")
        times: int = Field(1, ge=1, le=3, description="How many times.")
        punctuation: str = Field("!", description="Ends each greeting.")

        @field_validator("who")
        @classmethod
        def no_digits(cls, value: str) -> str:
            if any(c.isdigit() for c in value):
                raise ValueError("a name has no digits")
            return value.strip().title()

        @model_validator(mode="after")
        def not_shouting(self) -> Greet.Input:
            if self.punctuation == "!" and self.times == 3:
                raise ValueError("three greetings with '!' is shouting; use '.'")
            return self

    class Output(BaseModel):
        text: str

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        Greet.seen.append(input)
        yield "text", " ".join([f"Hello {input.who}{input.punctuation}"] * input.times)


def test_a_block_tool_uses_the_blocks_input_model_as_its_args_model(tctx) -> None:
    tool = block_as_tool(Greet)
    assert tool.args_model is Greet.Input
    assert tool.name == "greet" and tool.description == "Greet someone, a number of times."


def test_a_block_tool_shows_the_model_the_blocks_own_schema() -> None:
    tool = block_as_tool(Greet)
    schema = _strip_titles(Greet.input_schema())
    assert tool.parameters_schema() == schema
    assert tool.function_spec()["function"]["parameters"] == schema
    assert tool.signature() == "greet(who: string, times?: integer, punctuation?: string) - " + tool.description
    branch = decision_schema(ToolRegistry([tool]))["anyOf"][0]["properties"]["tool_args"]
    assert branch["required"] == ["who"] and set(branch["properties"]) == {"who", "times", "punctuation"}
    assert branch["properties"]["times"]["maximum"] == 3


def test_every_builtin_block_shows_the_same_schema_as_a_tool() -> None:
    for name in builtin.__all__:
        block = getattr(builtin, name)
        tool = block_as_tool(block)
        assert tool.args_model is block.Input, block.id
        assert tool.parameters_schema() == _strip_titles(block.input_schema()), block.id


def test_a_block_tool_validates_through_its_input_model_and_runs(tctx) -> None:
    tool = block_as_tool(Greet, ctx_factory=lambda ctx: BlockContext(
        workspace=Path(ctx.workspace), settings=ctx.settings, credentials=CredentialStore(None, {})))
    Greet.seen.clear()
    assert tool(tctx, {"who": "  ada lovelace ", "times": 2}) == "Hello Ada Lovelace! Hello Ada Lovelace!"
    assert isinstance(Greet.seen[0], Greet.Input) and Greet.seen[0].who == "Ada Lovelace"  # validated once, as is

    refused = {
        "who: Value error, a name has no digits": {"who": "R2D2"},  # field validator
        "args: Value error, three greetings with '!' is shouting": {"who": "x", "times": 3},  # model validator
        "times: Input should be less than or equal to 3": {"who": "x", "times": 9},  # constraint
        "who: Field required": {"times": 1},
        "tims: Extra inputs are not permitted": {"who": "x", "tims": 2},  # a misspelt optional argument
    }
    for message, args in refused.items():
        with pytest.raises(ToolError, match=f"^invalid arguments for greet: {message}"):
            tool(tctx, args)
    assert len(Greet.seen) == 1  # the block never ran on refused arguments


def test_a_tool_from_a_pydantic_model_gets_the_validated_instance(tctx) -> None:
    class Area(BaseModel):
        width: float = Field(gt=0)
        height: float = Field(gt=0)

    seen: list[Any] = []

    def area(ctx: ToolContext, args: Area) -> str:
        seen.append((ctx, args))
        return str(args.width * args.height)

    tool = Tool.from_schema("area", "Area of a rectangle.", Area, area, ends_run=True)
    assert tool(tctx, {"width": 2, "height": "3.5"}) == "7.0"
    assert seen[0][0] is tctx and isinstance(seen[0][1], Area) and tool.ends_run
    with pytest.raises(ToolError, match="width: Input should be greater than 0"):
        tool(tctx, {"width": -1, "height": 1})


SEARCH_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "description": "What to look for."},
        "order": {"enum": ["newest", "oldest"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        "filters": {"type": "object", "properties": {"lang": {"type": "string"}}, "additionalProperties": False},
        "json": {"type": "boolean"},  # a name pydantic could not use as a field
    },
    "required": ["query"],
    "additionalProperties": False,
}


def test_a_tool_from_a_json_schema_validates_with_it_and_gets_a_dict(tctx) -> None:
    calls: list[dict[str, Any]] = []
    tool = Tool.from_schema("search_notes", "Search the notes.", SEARCH_SCHEMA,
                            lambda ctx, args: calls.append(args) or json.dumps(args))
    assert tool.parameters_schema() == SEARCH_SCHEMA  # shown to the model exactly as given
    assert tool.signature().startswith("search_notes(query: string, order?: newest|oldest, limit?: integer")

    args = {"query": "cats", "order": "oldest", "filters": {"lang": "en"}, "json": True}
    assert json.loads(tool(tctx, args)) == args and calls == [args]  # only what was given, nothing added
    refused = {
        "limit: 99 is greater than the maximum of 50": {"query": "x", "limit": 99},
        "order: 'random' is not one of": {"query": "x", "order": "random"},
        "args: 'query' is a required property": {"order": "newest"},
        "Additional properties are not allowed \\('page' was unexpected\\)": {"query": "x", "page": 2},
        "filters: Additional properties": {"query": "x", "filters": {"country": "fr"}},
        "query: '' should be non-empty": {"query": ""},
    }
    for message, bad in refused.items():
        with pytest.raises(ToolError, match=f"invalid arguments for search_notes: .*{message}"):
            tool(tctx, bad)
    assert len(calls) == 1


def test_a_json_schema_tool_works_as_a_block(tctx, settings) -> None:
    tool = Tool.from_schema("search_notes", "Search the notes.", SEARCH_SCHEMA, lambda ctx, args: args["query"] * 2)
    block = tool_block(tool)
    assert block.input_schema() == SEARCH_SCHEMA
    assert {"query", "order", "limit", "filters"} <= set(block.input_names())
    ctx = BlockContext(workspace=settings.workspace, settings=settings, credentials=CredentialStore(None, {}))
    assert run_block_sync(block, {"query": "ab"}, ctx) == [("result", "abab")]


@pytest.mark.parametrize("name, args, message", [
    ("has space", {"type": "object"}, "tool name 'has space' is not valid"),
    ("x", {"type": "array"}, "must describe an object"),
    ("x", {"type": "object", "properties": {"a": {"type": "no-such-type"}}}, "JSON schema is invalid"),
    ("x", str, "args must be a pydantic model class or a JSON schema dict"),
])
def test_bad_definitions_are_config_errors(name: str, args: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Tool.from_schema(name, "d", args, lambda ctx, a: None)
