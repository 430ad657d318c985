"""Tools: typed Python functions whose schema comes from their hints and docstring.

    @tool
    def read_file(ctx: ToolContext, path: str) -> str:
        '''Read a text file from the workspace.

        Args:
            path: File path relative to the workspace.
        '''

The first parameter may be a `ToolContext` (not shown to the model). Every other parameter becomes
a field of a pydantic args model; its JSON schema feeds the prompt, native function calling and the
embedded model's constrained decoding, so nothing is written twice.

A tool can also be built from a schema directly, with no Python signature to read: a pydantic model
(used as is: it *is* the args model) or a JSON schema of an object. Blocks become tools this way.

    Tool.from_schema("resize", "Resize an image.", ResizeArgs, lambda ctx, args: resize(args.path, args.width))
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_type_hints

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic_core import PydanticCustomError

from forge.errors import ConfigError, ToolError

if TYPE_CHECKING:
    from forge.config import Settings
    from forge.plugins import Plugins

# What OpenAI-style function calling accepts as a name (and what the decision's `tool` holds).
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class ToolContext:
    """What a tool may touch: its confined workspace, settings and the user (if any)."""

    workspace: Path
    settings: Settings
    ask_user: Callable[[str], str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {param: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    desc: list[str] = []
    params: dict[str, str] = {}
    section = None
    current = None
    for line in lines:
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            section = "args"
            continue
        if stripped in ("Returns:", "Raises:", "Yields:", "Examples:", "Example:"):
            section = "other"
            continue
        if section is None:
            desc.append(line)
        elif section == "args":
            m = _ARG_LINE.match(line)
            if m and not line.startswith(" " * 8):
                current = m.group(1).lstrip("*")
                params[current] = m.group(3).strip()
            elif current and stripped:
                params[current] += " " + stripped
    description = " ".join(part.strip() for part in "\n".join(desc).strip().split("\n\n")[0].splitlines())
    return description, params


class Tool:
    """A callable tool with a pydantic args model: derived from its signature, or given (`from_schema`)."""

    # How __call__ hands the validated args to `func`: as keyword arguments (signature tools), as
    # the args model instance, or as a dict (tools from a JSON schema).
    _pass_args: Literal["kwargs", "model", "dict"] = "kwargs"

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        ends_run: bool = False,
    ):
        self.func = func
        self.name = name or func.__name__
        doc_desc, param_docs = parse_docstring(func.__doc__)
        self.description = description or doc_desc
        self.ends_run = ends_run
        sig = inspect.signature(func)
        hints = get_type_hints(func, include_extras=True)
        params = list(sig.parameters.values())
        self.takes_ctx = bool(params) and hints.get(params[0].name) is ToolContext
        fields: dict[str, Any] = {}
        for p in params[1:] if self.takes_ctx else params:
            annotation = hints.get(p.name, str)
            default = ... if p.default is inspect.Parameter.empty else p.default
            # Annotated keeps constraints the hint already carries (Field(ge=1), patterns) and adds the doc.
            fields[p.name] = (Annotated[annotation, Field(description=param_docs.get(p.name))], default)
        self.args_model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            f"{self.name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        self._schema: dict[str, Any] | None = None

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        args: type[BaseModel] | dict[str, Any],
        fn: Callable[[ToolContext, Any], Any],
        *,
        ends_run: bool = False,
    ) -> Tool:
        """A tool from its args schema and a function, without a Python signature to read.

        `args` is a pydantic model, which becomes the tool's args model unchanged (its JSON schema is
        what the model sees, its validation is what checks the model's arguments), or the JSON
        schema of an object, checked with `jsonschema`. `fn(ctx, args)` gets the ToolContext and the
        validated arguments: an instance of the model, or a dict holding the arguments given.
        """
        if not TOOL_NAME.match(name):
            raise ConfigError(f"tool name {name!r} is not valid; use 1-64 letters, digits, '_' or '-'")
        made = cls.__new__(cls)
        made.func = fn
        made.name = name
        made.description = " ".join(description.split())
        made.ends_run = ends_run
        made.takes_ctx = True
        if isinstance(args, type) and issubclass(args, BaseModel):
            made.args_model, made._pass_args = args, "model"
        elif isinstance(args, dict):
            made.args_model, made._pass_args = _json_schema_model(name, args), "dict"
        else:
            raise ConfigError(f"tool {name}: args must be a pydantic model class or a JSON schema dict, not {args!r}")
        made._schema = None
        return made

    # Schemas -------------------------------------------------------------------------------
    def parameters_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments, without pydantic's titles (they only cost tokens)."""
        if self._schema is None:
            schema = self.args_model.model_json_schema()
            self._schema = _strip_titles(schema)
        return self._schema

    def function_spec(self) -> dict[str, Any]:
        """OpenAI-style `tools=` entry, used for native function calling through litellm."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters_schema(),
            },
        }

    def signature(self) -> str:
        """Compact one-line spec for the prompt: `name(arg: type, opt?: type) - description`."""
        schema = self.parameters_schema()
        required = set(schema.get("required", []))
        parts = []
        for pname, prop in schema.get("properties", {}).items():
            # `str | None` is anyOf[string, null]: show "string", the optional mark says the rest.
            variants = [v.get("type") for v in prop.get("anyOf", []) if v.get("type") not in (None, "null")]
            typ = prop.get("type") or "|".join(variants) or "any"
            if "enum" in prop:
                typ = "|".join(map(str, prop["enum"]))
            parts.append(f"{pname}{'' if pname in required else '?'}: {typ}")
        return f"{self.name}({', '.join(parts)}) - {self.description}"

    # Calling -------------------------------------------------------------------------------
    def validate(self, args: dict[str, Any]) -> BaseModel:
        """Validate model-supplied args; raises ToolError with a message the model can act on."""
        unknown = _unknown_args(self.args_model, args)
        if unknown:
            problems = "; ".join(f"{k}: Extra inputs are not permitted" for k in unknown)
            raise ToolError(f"invalid arguments for {self.name}: {problems}")
        try:
            return self.args_model.model_validate(args)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'args'}: {err['msg']}" for err in e.errors()
            )
            raise ToolError(f"invalid arguments for {self.name}: {problems}") from None

    def __call__(self, ctx: ToolContext, args: dict[str, Any]) -> Any:
        parsed = self.validate(args)
        if self._pass_args == "model":
            return self.func(ctx, parsed)
        if self._pass_args == "dict":
            return self.func(ctx, parsed.model_dump(exclude_unset=True))
        kwargs = {k: getattr(parsed, k) for k in type(parsed).model_fields}
        if self.takes_ctx:
            return self.func(ctx, **kwargs)
        return self.func(**kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


def _unknown_args(model: type[BaseModel], args: Any) -> list[str]:
    """Arguments a model with pydantic's default `extra="ignore"` would drop without a word: for
    a tool they are the model's mistake (a misspelt optional argument), so they are reported.
    Models that say `forbid` report them themselves; ones that say `allow` want them."""
    if not isinstance(args, dict) or model.model_config.get("extra", "ignore") != "ignore":
        return []
    known: set[str] = set()
    for fname, info in model.model_fields.items():
        known.add(fname)
        if info.alias:
            known.add(info.alias)
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        known.update(c for c in choices if isinstance(c, str))
    return [k for k in args if k not in known]


class JsonSchemaArgs(BaseModel):
    """Base of the args model of a tool defined by a JSON schema: `jsonschema` validates the raw
    arguments; the model only carries them and reports the schema as given. Top-level properties
    are also fields (so the tool, used as a block, has its input names) where their names can be;
    the others (`_x`, `model_x`, `json`, ...) travel as extras."""

    model_config = ConfigDict(extra="allow")
    json_schema: ClassVar[dict[str, Any]] = {}
    validator: ClassVar[Any] = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        problems = [
            f"{'.'.join(map(str, err.absolute_path)) or 'args'}: {err.message}"
            for err in sorted(cls.validator.iter_errors(data), key=lambda err: list(map(str, err.absolute_path)))
        ]
        if problems:
            raise PydanticCustomError("json_schema", "{problems}", {"problems": "; ".join(problems)})
        return data

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.json_schema)


def _json_schema_model(name: str, schema: dict[str, Any]) -> type[JsonSchemaArgs]:
    import jsonschema  # only tools defined by a JSON schema need it

    if schema.get("type", "object") != "object":
        raise ConfigError(f"tool {name}: its JSON schema must describe an object (\"type\": \"object\")")
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ConfigError(f"tool {name}: its JSON schema is invalid ({e.message}); fix the schema") from None
    schema = {"type": "object", **copy.deepcopy(schema)}
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {
        prop: (Any, ... if prop in required else None)
        for prop in schema.get("properties", {})
        if prop.isidentifier() and not prop.startswith(("_", "model_")) and not hasattr(JsonSchemaArgs, prop)
    }
    model = create_model(f"{name}_args", __base__=JsonSchemaArgs, **fields)
    model.json_schema = schema
    model.validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    return model


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            # Inside `properties` the keys are field names: a field called "title" stays.
            k: ({n: _strip_titles(p) for n, p in v.items()} if k == "properties" and isinstance(v, dict)
                else _strip_titles(v))
            for k, v in schema.items()
            if k != "title" or not isinstance(v, str)
        }
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ends_run: bool = False,
) -> Any:
    """Decorator turning a typed function into a `Tool`."""

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool(f, name=name, description=description, ends_run=ends_run)

    return wrap(func) if func is not None else wrap


class ToolRegistry:
    """Name -> Tool. `from_plugins()` fills it with the built-ins and installed plugins' tools."""

    def __init__(self, tools: list[Tool] | None = None):
        self._tools: dict[str, Tool] = {}
        for t in tools or []:
            self.register(t)

    def register(self, t: Tool) -> Tool:
        if not isinstance(t, Tool):
            t = Tool(t)
        self._tools[t.name] = t
        return t

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def register_module(self, module: Any) -> None:
        """Register every Tool a module exposes (in its `__all__` order when it has one)."""
        names = getattr(module, "__all__", None) or dir(module)
        for attr in names:
            obj = getattr(module, attr)
            if isinstance(obj, Tool):
                self.register(obj)

    @classmethod
    def from_plugins(cls, plugins: Plugins | None = None) -> ToolRegistry:
        """Built-ins and installed plugins' tools (forge.plugins); a name claimed twice is an error."""
        from forge.plugins import get_plugins

        return cls([entry.obj for entry in (plugins or get_plugins()).tools().values()])

    from_entry_points = from_plugins  # the name callers used before forge.plugins
