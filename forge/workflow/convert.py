"""Type conversion at the edge (seed 2.3: data passes between blocks with automatic conversion).

The target input's annotation decides; the value is converted before the block's Input model
validates it. One table, used both at run time (`convert`) and by `workflow validate`
(`can_convert`, which refuses only edges that no value could ever cross):

    target            accepts
    str               str; int/float as digits; bool as JSON `true`/`false`; list/object as JSON text;
                      a FileRef as the file's text (read from the files folder, size-capped)
    FilePath          like str, but a FileRef gives its path
    int               int; an integral float (3.0); a numeric string ("3", "3.0"): strict, "abc" fails
    float             int, float, a numeric string ("3.5", "1e3"); never bool
    bool              bool; "true"/"false"/"1"/"0" (any case); 0 and 1
    list[X]           a list (each item converted to X); a JSON array string; any single value -> [X]
    dict / a model    an object; a JSON object string
    FileRef           a FileRef
    Literal / Enum    one of the allowed values (converted to their type first)
    X | Y | None      the first member the value already is, else the first that converts, in order
    Any (or unknown)  anything, unchanged

Numbers never become bools and bools never become numbers: that is almost always a wiring mistake.
"""

from __future__ import annotations

import enum
import json
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from forge.blocks.base import Block
from forge.blocks.filerefs import FILE_PATH, FileRef

ANY, OTHER, NULL, BOOL, INT, FLOAT, STR, PATH = "any", "other", "null", "bool", "int", "float", "str", "path"
LIST, DICT, MODEL, FILE, LITERAL, UNION = "list", "dict", "model", "file", "literal", "union"
PREVIEW_CHARS = 40
MAX_NUMBER_CHARS = 400  # longer "numbers" are refused before parsing (int() of huge strings is slow)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


class ConversionError(ValueError):
    """No conversion exists for this value; the message says from what to what, and why."""


@dataclass(frozen=True)
class Shape:
    """What an annotation accepts, reduced to what conversion needs."""

    kind: str
    item: Shape | None = None  # LIST: the item shape
    options: tuple[Shape, ...] = ()  # UNION: members, in order
    values: tuple[Any, ...] = ()  # LITERAL: the allowed values
    model: Any = None  # MODEL: the pydantic class; LITERAL from an Enum: the enum class


ANY_SHAPE = Shape(ANY)


# Annotations -> shapes ---------------------------------------------------------------------------
def shape_of(annotation: Any, metadata: Iterable[Any] = ()) -> Shape:
    """The Shape of a type annotation (pydantic field metadata may carry the FilePath marker)."""
    if any(m is FILE_PATH for m in metadata):
        return Shape(PATH)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return shape_of(args[0], annotation.__metadata__)
    if annotation is Any or annotation is object or isinstance(annotation, typing.TypeVar):
        return ANY_SHAPE
    if annotation is None or annotation is type(None):
        return Shape(NULL)
    if origin is typing.Union or origin is types.UnionType:
        options: list[Shape] = []
        for arg in args:
            s = shape_of(arg)
            options.extend(s.options if s.kind == UNION else [s])
        if any(o.kind == ANY for o in options):
            return ANY_SHAPE
        return options[0] if len(options) == 1 else Shape(UNION, options=tuple(dict.fromkeys(options)))
    if origin is typing.Literal:
        return Shape(LITERAL, values=tuple(args))
    if origin in (list, tuple, set, frozenset, Sequence, Iterable):
        items = [a for a in args if a is not Ellipsis]
        if origin is tuple and len(set(items)) > 1:
            return Shape(LIST, item=ANY_SHAPE)
        return Shape(LIST, item=shape_of(items[0]) if items else ANY_SHAPE)
    if origin in (dict, Mapping) or annotation in (dict, Mapping) or typing.is_typeddict(annotation):
        return Shape(DICT)
    if annotation in (list, tuple, set, frozenset):
        return Shape(LIST, item=ANY_SHAPE)
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return Shape(LITERAL, values=tuple(m.value for m in annotation), model=annotation)
        if issubclass(annotation, bool):
            return Shape(BOOL)
        if issubclass(annotation, int):
            return Shape(INT)
        if issubclass(annotation, float):
            return Shape(FLOAT)
        if issubclass(annotation, str):
            return Shape(STR)
        if issubclass(annotation, FileRef):
            return Shape(FILE)
        if issubclass(annotation, BaseModel):
            return Shape(MODEL, model=annotation)
    return Shape(OTHER)  # datetime, bytes, a custom class: pydantic decides, unchanged


_port_shapes: dict[tuple[type[BaseModel], str], Shape] = {}


def _port_shape(model: type[BaseModel], port: str) -> Shape:
    key = (model, port)
    if key not in _port_shapes:
        field = model.model_fields.get(port)
        _port_shapes[key] = shape_of(field.annotation, field.metadata) if field is not None else ANY_SHAPE
    return _port_shapes[key]


def input_shape(block: type[Block], port: str) -> Shape:
    return _port_shape(block.Input, port)


def output_shape(block: type[Block], port: str) -> Shape:
    return _port_shape(block.Output, port)


def describe(shape: Shape) -> str:
    """A type as users read it in messages: string, integer, list[object], string | null, ..."""
    if shape.kind == LIST:
        return f"list[{describe(shape.item or ANY_SHAPE)}]"
    if shape.kind == UNION:
        return " | ".join(describe(o) for o in shape.options)
    if shape.kind == LITERAL:
        return "one of " + ", ".join(json.dumps(v, default=str) for v in shape.values)
    if shape.kind == MODEL:
        return f"object ({shape.model.__name__})"
    return {ANY: "any", OTHER: "any", NULL: "null", BOOL: "boolean", INT: "integer", FLOAT: "number",
            STR: "string", PATH: "file path", DICT: "object", FILE: "file reference"}[shape.kind]


def _value_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, FileRef):
        return "file reference"
    if isinstance(value, list | tuple | set | frozenset):
        return "list"
    if isinstance(value, dict | BaseModel):
        return "object"
    return type(value).__name__


def _preview(value: Any) -> str:
    text = json.dumps(plain(value), ensure_ascii=False, default=str)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


# Run time ----------------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """JSON-like data: pydantic models (FileRef included) become dicts, tuples and sets lists."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def tag_files(value: Any, source: Shape) -> Any:
    """Mark the file references in `value`, an output of a port of shape `source`: only ports
    declared as FileRef produce them, so look-alike objects from untrusted data stay plain."""
    if source.kind == FILE and isinstance(value, dict | FileRef):
        try:
            return FileRef.model_validate(value)
        except ValueError:
            return value
    if source.kind == LIST and source.item is not None and isinstance(value, list):
        return [tag_files(v, source.item) for v in value]
    if source.kind == UNION and isinstance(value, dict | list):
        for option in source.options:
            if option.kind in (FILE, LIST):
                tagged = tag_files(value, option)
                if tagged is not value:
                    return tagged
    return value


ReadFile = Callable[[FileRef], str]


def convert(value: Any, target: Shape, read_file: ReadFile | None = None) -> Any:
    """`value` converted for an input of shape `target`, or ConversionError naming both types."""
    try:
        return _convert(value, target, read_file)
    except ConversionError:
        raise
    except RecursionError:
        raise ConversionError(f"cannot convert {_value_kind(value)}: nested too deeply") from None


def _fail(value: Any, target: Shape, why: str = "") -> ConversionError:
    shown = f" {_preview(value)}" if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    return ConversionError(f"cannot convert {_value_kind(value)}{shown} to {describe(target)}"
                           + (f" ({why})" if why else ""))


def _is_already(value: Any, target: Shape) -> bool:
    """Whether `value` is of `target`'s kind as it is (a union prefers such a member)."""
    kind = target.kind
    if kind in (STR, PATH):
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind in (INT, FLOAT):
        ok = (int, float) if kind == FLOAT else (int,)
        return isinstance(value, ok) and not isinstance(value, bool)
    if kind == NULL:
        return value is None
    if kind == LIST:
        return isinstance(value, list | tuple)
    if kind in (DICT, MODEL):
        return isinstance(value, dict) or (kind == MODEL and isinstance(value, target.model))
    if kind == FILE:
        return isinstance(value, FileRef)
    if kind == LITERAL:
        return any(type(value) is type(v) and value == v for v in target.values)
    return False


def _convert(value: Any, target: Shape, read_file: ReadFile | None) -> Any:
    kind = target.kind
    if kind in (ANY, OTHER):
        return plain(value)
    if kind == UNION:
        return _to_union(value, target, read_file)
    if isinstance(value, FileRef):
        return _from_file(value, target, read_file)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if kind == NULL:
        if value is None:
            return None
        raise _fail(value, target)
    if kind in (STR, PATH):
        return _to_text(value, target)
    if kind == INT:
        return _to_int(value, target)
    if kind == FLOAT:
        return _to_float(value, target)
    if kind == BOOL:
        return _to_bool(value, target)
    if kind == LIST:
        return _to_list(value, target, read_file)
    if kind in (DICT, MODEL, FILE):
        return _to_object(value, target)
    if kind == LITERAL:
        return _to_literal(value, target)
    raise AssertionError(f"unknown shape {kind}")  # pragma: no cover


def _to_union(value: Any, target: Shape, read_file: ReadFile | None) -> Any:
    for option in target.options:
        if _is_already(value, option):
            return _convert(value, option, read_file)
    for option in target.options:
        try:
            return _convert(value, option, read_file)
        except ConversionError:
            continue
    raise _fail(value, target)


def _from_file(ref: FileRef, target: Shape, read_file: ReadFile | None) -> Any:
    kind = target.kind
    if kind == STR:
        if read_file is None:
            raise ConversionError(f"cannot read file reference {ref.path!r} here; connect it to a file path input")
        return read_file(ref)
    if kind == PATH:
        return ref.path
    if kind in (FILE, DICT):
        return ref.model_dump()
    if kind == LIST:
        return [_convert(ref, target.item or ANY_SHAPE, read_file)]
    raise _fail(ref, target)


def _json_text(value: Any) -> str:
    return json.dumps(plain(value), ensure_ascii=False, default=str)


def _to_text(value: Any, target: Shape) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise _fail(value, target, "the upstream port gave no value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict | list | tuple | set | frozenset):
        return _json_text(value)
    return str(value)


def _parse_number(text: str, value: Any, target: Shape) -> int | float:
    text = text.strip()
    if len(text) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(text):
        raise _fail(value, target, "not a number")
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise _fail(value, target, "too large")
    return number


def _to_int(value: Any, target: Shape) -> int:
    if isinstance(value, bool):
        raise _fail(value, target)
    number = _parse_number(value, value, target) if isinstance(value, str) else value
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    if isinstance(number, float):
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise _fail(value, target, "it has a fractional part")
    raise _fail(value, target)


def _to_float(value: Any, target: Shape) -> float:
    if isinstance(value, bool):
        raise _fail(value, target)
    number = _parse_number(value, value, target) if isinstance(value, str) else value
    if isinstance(number, int | float) and not isinstance(number, bool):
        try:
            return float(number)
        except OverflowError:
            raise _fail(value, target, "too large") from None
    raise _fail(value, target)


def _to_bool(value: Any, target: Shape) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _fail(value, target, 'use true/false, "true"/"false" or 1/0' if isinstance(value, str | int) else "")


def _to_list(value: Any, target: Shape, read_file: ReadFile | None) -> list[Any]:
    item = target.item or ANY_SHAPE
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            value = parsed
    if not isinstance(value, list | tuple | set | frozenset):
        if value is None:
            raise _fail(value, target)
        try:
            return [_convert(value, item, read_file)]
        except ConversionError as e:
            raise ConversionError(f"{e} (a single value is wrapped in a list)") from None
    out = []
    for i, v in enumerate(value):
        try:
            out.append(_convert(v, item, read_file))
        except ConversionError as e:
            raise ConversionError(f"item {i}: {e}") from None
    return out


def _to_object(value: Any, target: Shape) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and target.kind != FILE:
        try:
            parsed = json.loads(value)
        except ValueError:
            raise _fail(value, target, "not JSON") from None
        if isinstance(parsed, dict):
            return parsed
        raise _fail(value, target, f"the JSON is a {_value_kind(parsed)}, not an object")
    raise _fail(value, target)


def _to_literal(value: Any, target: Shape) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    for allowed in target.values:
        if type(value) is type(allowed) and value == allowed:
            return value
    for allowed in target.values:
        try:
            candidate = _convert(value, shape_of(type(allowed)), None)
        except ConversionError:
            continue
        if type(candidate) is type(allowed) and candidate == allowed:
            return candidate
    raise _fail(value, target)


# Validation time --------------------------------------------------------------------------------------------
# For each target kind, the source kinds that convert for at least some values.
_POSSIBLE: dict[str, frozenset[str]] = {
    NULL: frozenset({NULL}),
    STR: frozenset({STR, PATH, INT, FLOAT, BOOL, LIST, DICT, MODEL, FILE}),
    PATH: frozenset({STR, PATH, INT, FLOAT, BOOL, LIST, DICT, MODEL, FILE}),
    INT: frozenset({INT, FLOAT, STR, PATH}),
    FLOAT: frozenset({INT, FLOAT, STR, PATH}),
    BOOL: frozenset({BOOL, INT, STR, PATH}),
    DICT: frozenset({DICT, MODEL, STR, PATH, FILE}),
    MODEL: frozenset({DICT, MODEL, STR, PATH}),
    FILE: frozenset({FILE, DICT, MODEL}),
}


def _literal_value_shape(value: Any) -> Shape:
    return shape_of(type(value)) if value is not None else Shape(NULL)


def can_convert(source: Shape, target: Shape) -> bool:
    """False when no value of `source` can ever convert to `target` (validate reports the edge);
    True when some can (value-dependent edges such as string -> integer are checked at run time)."""
    if ANY in (source.kind, target.kind) or OTHER in (source.kind, target.kind):
        return True
    if source.kind == UNION:
        return any(can_convert(o, target) for o in source.options)
    if target.kind == UNION:
        return any(can_convert(source, o) for o in target.options)
    if source.kind == LITERAL:
        return any(can_convert(_literal_value_shape(v), target) for v in source.values)
    if target.kind == LITERAL:  # only scalars can equal an allowed value
        scalar = source.kind in (NULL, BOOL, INT, FLOAT, STR, PATH)
        return scalar and any(can_convert(source, _literal_value_shape(v)) for v in target.values)
    if target.kind == LIST:
        item = target.item or ANY_SHAPE
        if source.kind == LIST:
            return can_convert(source.item or ANY_SHAPE, item)
        return source.kind in (STR, PATH) or can_convert(source, item)  # a JSON array, or one wrapped value
    return source.kind in _POSSIBLE[target.kind]


def fan_in_shape(sources: Sequence[Shape]) -> Shape:
    """What several live edges into one port deliver: a list of their values."""
    options = tuple(dict.fromkeys(sources))
    return Shape(LIST, item=options[0] if len(options) == 1 else Shape(UNION, options=options))
