"""Blocks: the typed units a workflow is built from (docs/architecture.md, "Block").

    class Calculator(Block):
        id = "calculator"
        name = "Calculator"
        description = "Evaluate an arithmetic expression."
        categories = (BlockCategory.TOOLS,)

        class Input(BaseModel):
            expression: str = Field(description="e.g. (2 + 3) * 4")

        class Output(BaseModel):
            result: float

        async def run(self, input, ctx):
            yield "result", evaluate(input.expression)

`run` is an async generator of `(output_name, value)` pairs: a block may emit several outputs, the
same output several times (streaming), or only some of them (a condition emits only the branch
taken). The input and output models are the schemas: nothing is written twice.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from forge.blocks.credentials import CredentialStore
    from forge.config import Settings

BlockOutput = AsyncIterator[tuple[str, Any]]


class Effect(enum.StrEnum):
    """What running a block does outside the run: `workflow run --dry-run` decides by it."""

    NONE = "none"  # computes from its inputs (local file reads included): a dry run really runs it
    READ = "read"  # reads a model, the network or a service without changing it: stubbed unless --live-reads
    WRITE = "write"  # sends, posts or writes: a dry run never runs it, it shows `preview()` instead


class Preview(BaseModel):
    """What a side-effect block would do: `--dry-run` prints it (redacted) instead of running the block."""

    action: str  # e.g. "POST", "send email", "write file", "execute SQL"
    destination: str = ""  # host, recipient, table, path; never a secret (a webhook URL is one)
    payload: Any = None  # what would be sent
    notes: list[str] = []  # e.g. missing credentials, a limit the real run would refuse


class BlockCategory(enum.StrEnum):
    AI = "ai"
    NETWORK = "network"
    DATA = "data"
    FILES = "files"
    STORAGE = "storage"
    COMMUNICATION = "communication"
    TOOLS = "tools"
    INPUT_OUTPUT = "input_output"
    LOGIC = "logic"
    AGENT = "agent"
    SOCIAL = "social"


@dataclass
class BlockContext:
    """What a running block may touch. `workspace` is the folder file blocks are confined to."""

    workspace: Path
    settings: Settings
    credentials: CredentialStore
    run_id: str = ""
    node_id: str = ""
    ask_user: Callable[[str], str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class EmptyModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Block:
    """Base class of every block. Subclasses set the ClassVars and implement `run`."""

    id: ClassVar[str]
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    categories: ClassVar[tuple[BlockCategory, ...]] = ()
    # Bump when behaviour changes: the output cache is keyed by (id, version, input hash).
    version: ClassVar[str] = "1"
    # Providers whose credentials the block reads from the store (`autogpt credentials set P`).
    credentials: ClassVar[tuple[str, ...]] = ()
    # False for blocks with side effects or fresh data (send, post, write, user input, time):
    # their outputs are never served from the cache.
    cacheable: ClassVar[bool] = True
    # Effect outside the run (see Effect). None: inferred, NONE when cacheable, else WRITE, so a
    # plugin block that does not declare it is never run by a dry run.
    effect: ClassVar[Effect | None] = None
    # Ports an edge uses when it names none. Default: the first field of each model.
    main_input: ClassVar[str | None] = None
    main_output: ClassVar[str | None] = None

    Input: ClassVar[type[BaseModel]] = EmptyModel
    Output: ClassVar[type[BaseModel]] = EmptyModel

    async def run(self, input: Any, ctx: BlockContext) -> BlockOutput:  # noqa: A002 - the contract's name
        raise NotImplementedError
        yield  # pragma: no cover - makes this an async generator

    # Dry runs ------------------------------------------------------------------------------
    @classmethod
    def declared_effect(cls) -> Effect:
        if cls.effect is not None:
            return cls.effect
        return Effect.NONE if cls.cacheable else Effect.WRITE

    @classmethod
    def effect_for(cls, input: Any) -> Effect:  # noqa: A002
        """This input's effect; override when it depends on the input (an HTTP GET reads, a POST writes)."""
        return cls.declared_effect()

    def preview(self, input: Any, ctx: BlockContext) -> Preview:  # noqa: A002
        """What `run` would do with `input`, without doing it. Default: the block's name and its input."""
        return Preview(action=f"run {self.id}", payload=input.model_dump(mode="json", exclude_defaults=True))

    @classmethod
    def run_input_names(cls, config: dict[str, Any]) -> list[str]:
        """Bare `--input NAME=VALUE` names this node reads (user_input: its `name`)."""
        return []

    # Schemas -------------------------------------------------------------------------------
    @classmethod
    def input_schema(cls) -> dict[str, Any]:
        return cls.Input.model_json_schema()

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        return cls.Output.model_json_schema()

    @classmethod
    def input_names(cls) -> list[str]:
        return list(cls.Input.model_fields)

    @classmethod
    def output_names(cls) -> list[str]:
        return list(cls.Output.model_fields)

    @classmethod
    def default_input(cls) -> str | None:
        return cls.main_input or next(iter(cls.Input.model_fields), None)

    @classmethod
    def default_output(cls) -> str | None:
        return cls.main_output or next(iter(cls.Output.model_fields), None)

    @classmethod
    def required_inputs(cls) -> list[str]:
        return [n for n, f in cls.Input.model_fields.items() if f.is_required()]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What `autogpt workflow blocks --json` prints for one block."""
        return {
            "id": cls.id,
            "name": cls.name or cls.id,
            "description": cls.description,
            "categories": [c.value if isinstance(c, BlockCategory) else str(c) for c in cls.categories],
            "version": cls.version,
            "credentials": list(cls.credentials),
            "effect": cls.declared_effect().value,
            "input_schema": cls.input_schema(),
            "output_schema": cls.output_schema(),
        }

    def __repr__(self) -> str:
        return f"<Block {self.id}>"
