"""Data passing between blocks (seed 2.3): conversion at the edge, the static check in validate,
and file references, through the conversion table and through the real engine."""

from __future__ import annotations

import asyncio
import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from forge.blocks import ai, builtin
from forge.blocks.base import Block, BlockContext
from forge.blocks.filerefs import FilePath, FileRef
from forge.blocks.registry import BlockRegistry
from forge.blocks.testing import TEST_BLOCKS
from forge.models.scripted import ScriptedModel
from forge.workflow.convert import ConversionError, can_convert, convert, describe, shape_of, tag_files
from forge.workflow.model import WorkflowValidationError, parse_workflow
from forge.workflow.runs import run_workflow
from forge.workflow.validate import validate

BUILTIN = [getattr(builtin, name) for name in builtin.__all__]


def conv(value: Any, annotation: Any, read_file=None) -> Any:
    return convert(value, shape_of(annotation), read_file)


# The conversion table ---------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (20, "20"), (3.5, "3.5"), (True, "true"), (False, "false"), ("as is", "as is"),
    ({"a": 1, "b": [1, 2]}, '{"a": 1, "b": [1, 2]}'), ([1, "x"], '[1, "x"]'), ({"é": "ü"}, '{"é": "ü"}'),
])
def test_to_string(value, expected):
    assert conv(value, str) == expected


@pytest.mark.parametrize("value, expected", [
    (3, 3), (3.0, 3), ("3", 3), (" -12 ", -12), ("3.0", 3), ("1e3", 1000),
])
def test_to_integer(value, expected):
    result = conv(value, int)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value, why", [
    ("abc", "not a number"), ("3.5", "fractional part"), (3.5, "fractional part"), ("", "not a number"),
    ("1_000", "not a number"), ("nan", "not a number"), ("0x10", "not a number"), ("9" * 500, "not a number"),
    (True, ""), ([1], ""), ({"a": 1}, ""), (None, ""),
])
def test_to_integer_refusals_name_both_types(value, why):
    with pytest.raises(ConversionError, match="to integer") as info:
        conv(value, int)
    assert why in str(info.value)
    assert str(info.value).startswith("cannot convert ")


@pytest.mark.parametrize("value, expected", [(3, 3.0), (2.5, 2.5), ("3.5", 3.5), (".5", 0.5), ("-1E2", -100.0)])
def test_to_number(value, expected):
    result = conv(value, float)
    assert result == expected and isinstance(result, float)


@pytest.mark.parametrize("value", ["abc", "inf", "1e999", True, [1.0], None])
def test_to_number_refusals(value):
    with pytest.raises(ConversionError, match="to number"):
        conv(value, float)


@pytest.mark.parametrize("value, expected", [
    (True, True), ("true", True), ("FALSE", False), (" 1 ", True), ("0", False), (1, True), (0, False),
])
def test_to_boolean(value, expected):
    assert conv(value, bool) is expected


@pytest.mark.parametrize("value", ["yes", "2", 2, 1.0, None, []])
def test_to_boolean_refusals(value):
    with pytest.raises(ConversionError, match="to boolean"):
        conv(value, bool)


def test_json_strings_into_objects_and_lists():
    assert conv('{"a": [1, 2]}', dict[str, Any]) == {"a": [1, 2]}
    assert conv(' [1, "2", 3.0] ', list[int]) == [1, 2, 3]  # the JSON array's items are converted too
    with pytest.raises(ConversionError, match="the JSON is a list, not an object"):
        conv("[1]", dict)
    with pytest.raises(ConversionError, match="not JSON"):
        conv("{oops", dict)


def test_single_values_are_wrapped_into_lists_and_items_converted():
    assert conv("one", list[str]) == ["one"]
    assert conv(5, list[str]) == ["5"]
    assert conv("[not json", list[str]) == ["[not json"]  # text that is not a JSON array is one item
    assert conv({"a": 1}, list[dict]) == [{"a": 1}]
    assert conv((1, 2), list[float]) == [1.0, 2.0]
    with pytest.raises(ConversionError, match='item 1: cannot convert string "x" to integer'):
        conv([1, "x"], list[int])
    with pytest.raises(ConversionError, match="to integer .*wrapped in a list"):
        conv("abc", list[int])


def test_unions_prefer_the_member_the_value_already_is_then_try_in_order():
    assert conv([1, 2], str | list[str]) == ["1", "2"]  # a list stays a list (items converted)
    assert conv(3, str | list[str]) == "3"
    assert conv(None, str | None) is None
    assert conv("7", int | None) == 7
    assert conv(2.5, int | str) == "2.5"  # not an integer without loss: the next member
    with pytest.raises(ConversionError, match="to integer | null"):
        conv("x", int | None)


def test_literals_enums_models_and_any():
    class Color(enum.Enum):
        RED = "red"
        ONE = 1

    assert conv("GET", Literal["GET", "POST"]) == "GET"
    assert conv("2", Literal[1, 2]) == 2
    assert conv("1", Color) == 1
    with pytest.raises(ConversionError, match='to one of "GET", "POST"'):
        conv("PUT", Literal["GET", "POST"])

    class Section(BaseModel):
        heading: str

    assert conv('{"heading": "h"}', Section) == {"heading": "h"}
    assert conv(Section(heading="h"), str) == '{"heading": "h"}'
    sentinel = object()
    assert conv(sentinel, Any) is sentinel


def test_static_compatibility():
    def ok(src: Any, dst: Any) -> bool:
        return can_convert(shape_of(src), shape_of(dst))

    assert not ok(list[dict], int) and not ok(dict, float) and not ok(bool, int) and not ok(list[str], bool)
    assert not ok(list[dict[str, Any]], list[int]) and not ok(None, str) and not ok(FileRef, int)
    assert not ok(list[str], Literal["a", "b"]) and not ok(dict, Literal[1])
    assert ok(str, int) and ok(str, dict) and ok(int, str) and ok(list[dict], str) and ok(Any, int)
    assert ok(int, list[str]) and ok(int | None, int) and ok(int, Literal[1, 2]) and ok(FileRef, str)
    assert describe(shape_of(list[dict[str, Any]])) == "list[object]"
    assert describe(shape_of(int | float | None)) == "integer | number | null"


def test_file_references_read_only_from_ports_declared_as_file_references():
    ref = {"path": "out/a.txt", "mime_type": "text/plain", "size": 3}
    read = []

    def reader(r: FileRef) -> str:
        read.append(r.path)
        return "the text"

    tagged = tag_files(ref, shape_of(FileRef))
    assert isinstance(tagged, FileRef)
    assert convert(tagged, shape_of(str), reader) == "the text"
    assert convert(tagged, shape_of(FilePath), reader) == "out/a.txt"
    assert convert(tagged, shape_of(Any), reader) == ref
    assert convert(tagged, shape_of(str | None), reader) == "the text"
    # The same object from an untyped port (a web page, a model's answer) is just data.
    untrusted = tag_files(ref, shape_of(dict[str, Any]))
    assert convert(untrusted, shape_of(str), reader) == '{"path": "out/a.txt", "mime_type": "text/plain", "size": 3}'
    assert read == ["out/a.txt", "out/a.txt"]


# Through the engine ---------------------------------------------------------------------------------------
class Numbers(Block):
    """Emits one value of every kind, so edges can pick what they test."""

    id = "numbers"

    class Input(BaseModel):
        label: str = ""

    class Output(BaseModel):
        integer: int
        decimal: float
        flag: bool
        numeric_text: str
        word: str
        json_obj: str
        json_list: str
        rows: list[dict[str, Any]]
        maybe: str | None

    async def run(self, input: Any, ctx: BlockContext):  # noqa: A002
        yield "integer", 20
        yield "decimal", 3.5
        yield "flag", True
        yield "numeric_text", "42"
        yield "word", "abc"
        yield "json_obj", '{"k": [1, 2]}'
        yield "json_list", '["1", 2]'
        yield "rows", [{"a": 1}]
        yield "maybe", "7"


class Typed(Block):
    """Records what its typed inputs received after conversion."""

    id = "typed"
    seen: dict[str, dict[str, Any]] = {}

    class Input(BaseModel):
        text: str | None = None
        count: int | None = None
        ratio: float | None = None
        flag: bool | None = None
        obj: dict[str, Any] | None = None
        tags: list[str] | None = None
        numbers: list[int] | None = None

    class Output(BaseModel):
        ok: bool

    async def run(self, input: Any, ctx: BlockContext):  # noqa: A002
        Typed.seen[ctx.node_id] = input.model_dump(exclude_none=True)
        yield "ok", True


@pytest.fixture
def registry() -> BlockRegistry:
    Typed.seen.clear()
    return BlockRegistry([*BUILTIN, *TEST_BLOCKS, Numbers, Typed])


def run(settings, registry, nodes, edges):
    workflow = parse_workflow({"name": "t", "nodes": nodes, "edges": edges})
    return asyncio.run(run_workflow(workflow, registry, settings))


def edge(src: str, out: str, dst: str, port: str) -> dict[str, str]:
    return {"from": src, "from_output": out, "to": dst, "to_input": port}


def test_calculator_result_into_file_write_content(settings, registry):
    """The review's case: a number wired into a text input used to fail "Input should be a valid string"."""
    result = run(settings, registry, [
        {"id": "calc", "block": "calculator", "config": {"expression": "(2 + 3) * 4"}},
        {"id": "save", "block": "file_write", "config": {"path": "out/result.txt"}},
    ], [{"from": "calc", "to": "save"}])
    assert result.status == "completed", result.nodes["save"].error
    assert (settings.workflows_dir() / "files" / "out" / "result.txt").read_text() == "20"


def test_every_conversion_through_the_engine(settings, registry):
    result = run(settings, registry, [{"id": "n", "block": "numbers"}, {"id": "t", "block": "typed"},
                                      {"id": "u", "block": "typed"}], [
        edge("n", "integer", "t", "text"), edge("n", "numeric_text", "t", "count"),
        edge("n", "numeric_text", "t", "ratio"), edge("n", "flag", "t", "flag"), edge("n", "json_obj", "t", "obj"),
        edge("n", "word", "t", "tags"), edge("n", "json_list", "t", "numbers"),
        edge("n", "decimal", "u", "text"), edge("n", "flag", "u", "tags"), edge("n", "integer", "u", "ratio"),
        edge("n", "rows", "u", "text"),  # fan-in: a list of [3.5, [{"a": 1}]] into a text input is its JSON
    ])
    assert result.nodes["t"].status == "completed", result.nodes["t"].error
    assert Typed.seen["t"] == {"text": "20", "count": 42, "ratio": 42.0, "flag": True, "obj": {"k": [1, 2]},
                               "tags": ["abc"], "numbers": [1, 2]}
    assert Typed.seen["u"] == {"text": '[3.5, [{"a": 1}]]', "tags": ["true"], "ratio": 20.0}


def test_fan_in_delivers_a_converted_list(settings, registry):
    result = run(settings, registry, [{"id": "n", "block": "numbers"}, {"id": "t", "block": "typed"}], [
        edge("n", "integer", "t", "tags"), edge("n", "decimal", "t", "tags"), edge("n", "word", "t", "tags"),
        edge("n", "integer", "t", "numbers"), edge("n", "numeric_text", "t", "numbers"),
    ])
    assert result.status == "completed"
    assert Typed.seen["t"] == {"tags": ["20", "3.5", "abc"], "numbers": [20, 42]}


def test_runtime_refusal_names_the_edge(settings, registry):
    result = run(settings, registry, [{"id": "n", "block": "numbers"}, {"id": "t", "block": "typed"}],
                 [edge("n", "word", "t", "count")])
    assert result.nodes["t"].status == "failed"
    assert result.nodes["t"].error.startswith('edge n.word -> t.count: cannot convert string "abc" to integer | null')
    assert "\n" not in result.nodes["t"].error


def test_validate_reports_edges_that_can_never_convert_with_both_types(registry):
    workflow = parse_workflow({"name": "t", "nodes": [
        {"id": "search", "block": "numbers"}, {"id": "show", "block": "typed"}, {"id": "a", "block": "nope"},
        {"id": "sum", "block": "add"},
    ], "edges": [
        edge("search", "rows", "show", "count"),  # list[object] -> integer: never
        edge("search", "word", "show", "count"),  # string -> integer: depends on the value, passes
        edge("search", "flag", "sum", "a"),  # boolean -> number: never
    ]})
    with pytest.raises(WorkflowValidationError) as info:
        validate(workflow, registry)
    errors = info.value.errors
    assert any(e.startswith("edges[0], edges[1]: search.rows, search.word -> show.count: output type "
                            "list[list[object] | string] (several edges deliver a list) can never convert to "
                            "input type integer | null") for e in errors), errors
    assert any(e.startswith("edges[2]: search.flag -> sum.a: output type boolean can never convert to input "
                            "type number") for e in errors), errors
    assert any("unknown block 'nope'" in e for e in errors)
    assert len(errors) == 3


def test_file_write_then_llm_call_reads_the_file_text(settings, registry):
    ai.clear_model_cache()
    model = "scripted/" + str(settings.workspace.parent / "script.json")
    (settings.workspace.parent / "script.json").write_text('["Summary."]')
    try:
        result = run(settings, registry, [
            {"id": "save", "block": "file_write", "config": {"path": "notes.md", "content": "# Notes\nline two"}},
            {"id": "ask", "block": "llm_call", "config": {"model": model}},
            {"id": "read", "block": "file_read"},
        ], [{"from": "save", "to": "ask"}, {"from": "save", "to": "read"}])
        assert result.status == "completed", {k: v.error for k, v in result.nodes.items()}
        cached = ai.get_cached_model(model, settings)
        assert isinstance(cached, ScriptedModel)
        assert cached.calls[0][-1] == {"role": "user", "content": "# Notes\nline two"}
        assert result.outputs()["save"]["file"] == {"path": "notes.md", "mime_type": "text/markdown", "size": 16}
        assert result.outputs()["read"] == {"content": "# Notes\nline two"}  # a path input gets the path
    finally:
        ai.clear_model_cache()


def test_file_reference_reads_are_confined_and_text_only(settings, registry):
    class FakeFile(Block):
        """A (buggy or hostile) block that declares a file reference but points outside."""

        id = "fake_file"

        class Input(BaseModel):
            path: str

        class Output(BaseModel):
            file: FileRef

        async def run(self, input: Any, ctx: BlockContext):  # noqa: A002
            yield "file", {"path": input.path, "mime_type": "text/plain", "size": 1}

    reg = BlockRegistry([*BUILTIN, FakeFile])
    files = settings.workflows_dir() / "files"
    files.mkdir(parents=True)
    (files / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    secret = settings.workspace.parent / "secret.txt"
    secret.write_text("top secret")
    for path, why in (("../../secret.txt", "goes above the workspace"), (str(secret), "absolute path"),
                      ("img.png", "binary file")):
        result = run(settings, reg, [{"id": "f", "block": "fake_file", "config": {"path": path}},
                                     {"id": "echo", "block": "display_result"},
                                     {"id": "t", "block": "text_split"}],
                     [{"from": "f", "to": "echo"}, {"from": "f", "to": "t"}])
        assert result.nodes["t"].status == "failed"
        assert result.nodes["t"].error.startswith(f"edge f.file -> t.text: cannot read file reference {path!r}")
        assert why in result.nodes["t"].error
        assert result.nodes["echo"].status == "completed"  # an Any input gets the reference itself
        assert "top secret" not in str(result.outputs())


def test_file_ref_helper_for_custom_blocks(tmp_path):
    from forge.blocks.filerefs import file_ref
    from forge.errors import PathOutsideWorkspaceError

    root = tmp_path / "files"
    (root / "img").mkdir(parents=True)
    (root / "img" / "chart.png").write_bytes(b"\x89PNG....")
    expected = {"path": "img/chart.png", "mime_type": "image/png", "size": 8}
    assert file_ref(root, "img/chart.png") == expected
    assert file_ref(root, root / "img" / "chart.png") == expected
    assert file_ref(root, "img/../img/chart.png") == expected
    (tmp_path / "outside.txt").write_text("x")
    for escape in ("../outside.txt", tmp_path / "outside.txt"):
        with pytest.raises(PathOutsideWorkspaceError):
            file_ref(root, escape)
    assert FileRef.model_json_schema()["required"] == ["path"]


def test_file_references_survive_the_log_on_resume_and_models_are_stored_as_json(settings, registry):
    """Resume replays outputs from events.jsonl (plain JSON): a reference must still read the file,
    and a block emitting a pydantic FileRef must be seen downstream exactly as after a replay."""
    from forge.blocks import testing
    from forge.runs.log import read_events
    from forge.workflow.runs import resume_workflow, runs_dir

    class ModelEmitter(Block):
        id = "model_emitter"

        class Input(BaseModel):
            path: str

        class Output(BaseModel):
            file: FileRef

        async def run(self, input: Any, ctx: BlockContext):  # noqa: A002
            (ctx.workspace / input.path).write_text("from a model")
            yield "file", FileRef(path=input.path, mime_type="text/plain", size=12)

    reg = BlockRegistry([*BUILTIN, *TEST_BLOCKS, ModelEmitter])
    testing._FLAKY_ATTEMPTS.clear()
    first = run(settings, reg, [
        {"id": "save", "block": "file_write", "config": {"path": "k.txt", "content": "key-from-file"}},
        {"id": "flaky", "block": "flaky", "config": {"failures": 1}},
        {"id": "emit", "block": "model_emitter", "config": {"path": "m.txt"}},
        {"id": "show", "block": "text_split"},
    ], [{"from": "save", "to": "flaky", "to_input": "key"}, {"from": "emit", "to": "show"}])
    assert first.nodes["flaky"].status == "failed" and testing._FLAKY_ATTEMPTS["key-from-file"] == 1
    assert first.outputs()["emit"] == {"file": {"path": "m.txt", "mime_type": "text/plain", "size": 12}}
    assert first.outputs()["show"] == {"chunks": ["from a model"]}
    logged = [e["value"] for e in read_events(runs_dir(settings) / first.run_id)
              if e["type"] == "node_output" and e["node"] == "emit"]
    assert logged == [{"path": "m.txt", "mime_type": "text/plain", "size": 12}]

    resumed = asyncio.run(resume_workflow(first.run_id, reg, settings))
    assert resumed.status == "completed", resumed.nodes["flaky"].error
    assert resumed.nodes["save"].replayed and testing._FLAKY_ATTEMPTS["key-from-file"] == 2
