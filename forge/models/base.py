"""The model base class every backend subclasses, and what a call returns.

A model owns everything the agent needs to budget a prompt: `count_tokens` and `context_window`
come from the object, never from a name prefix, so a user's own subclass gets correct budgets
and streaming by overriding them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forge.events.progress import ProgressCallback
    from forge.tools.base import Tool

# Reply room when a model states no output cap of its own.
DEFAULT_REPLY_TOKENS = 4096


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | str


@dataclass
class LLMResponse:
    """One completion. `content` holds the decision JSON (or the thoughts, when the provider
    returned the tool as a native `tool_calls` entry)."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class Model(ABC):
    """A chat model. Subclasses implement `complete`; everything else has a working default.

    `complete` returns the next decision: `tools` enables native function calling where the
    provider has it, `decision_schema` is the strict JSON schema of a whole decision (for
    schema-constrained decoding or JSON mode). `stream` yields plain text as it is generated.
    A backend that can stream its decision also overrides `complete_streamed`, which reports each
    piece to a progress callback as it is generated (and each retry).
    """

    name: str = "model"
    # A small model (the embedded 135M one): the default agent decides with it in short constrained
    # stages (forge/agent/staged.py) rather than from the one-shot prompt.
    small: bool = False

    @abstractmethod
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
    ) -> LLMResponse: ...

    async def complete_streamed(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
        progress: ProgressCallback,
    ) -> LLMResponse:
        """`complete`, telling `progress` of each piece of the reply as it is generated
        (`TokensReceived`) and of each retry (`CallRetried`). Default: `complete`, silently."""
        return await self.complete(messages, tools=tools, decision_schema=decision_schema)

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_usage: Callable[[Usage], None] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str]:
        """Plain-text completion piece by piece. Default: the whole answer of `complete` as one
        piece, for models that cannot stream. `on_usage` gets the call's usage at the end."""
        response = await self.complete(messages)
        if response.content:
            yield response.content
        if on_usage is not None:
            on_usage(response.usage)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this model's vocabulary. Default: ~4 characters a token."""
        return max(1, len(text) // 4) if text else 0

    @property
    def context_window(self) -> int | None:
        """Input context length in tokens, or None when unknown (the agent then assumes a default)."""
        return None

    @property
    def max_reply_tokens(self) -> int:
        """Tokens the prompt budget leaves free for the reply."""
        return DEFAULT_REPLY_TOKENS

    def uses_native_tools(self, tools: Sequence[Tool]) -> bool:
        """True when `complete` sends the tools' function specs to the provider (they then count
        against the same context window as the prompt)."""
        return False

    def variant(self, *, temperature: float, seed: int) -> Model:
        """The same model sampling with another temperature and seed (to try again after a repeated
        call). Default: itself, for models that cannot vary."""
        return self

    def close(self) -> None:  # noqa: B027 - optional to override: most models hold nothing
        """Free what the model holds (connections, loaded weights). Safe to call twice."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


async def complete_with_progress(
    model: Model,
    messages: list[dict[str, Any]],
    *,
    tools: Sequence[Tool] = (),
    decision_schema: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> LLMResponse:
    """`model.complete`, telling `progress` what happens: `CallStarted` (the prompt), the tokens and
    retries the backend reports (`complete_streamed`), then `CallFinished` (the raw reply, its usage
    and latency). Without `progress`, plain `complete`."""
    if progress is None:
        return await model.complete(messages, tools=tools, decision_schema=decision_schema)
    from forge.events.models import UsageFields
    from forge.events.progress import CallFinished, CallStarted

    progress(CallStarted(model=model.name, messages=messages))
    started = time.monotonic()
    try:
        response = await model.complete_streamed(messages, tools=tools, decision_schema=decision_schema,
                                                 progress=progress)
    except BaseException as e:
        progress(CallFinished(model=model.name, latency_s=time.monotonic() - started, error=str(e) or type(e).__name__))
        raise
    calls = [{"name": c.name, "arguments": c.arguments} for c in response.tool_calls]
    progress(
        CallFinished(
            model=model.name,
            content=response.content,
            tool_calls=calls,
            usage=UsageFields(**response.usage.to_dict()),
            latency_s=time.monotonic() - started,
        )
    )
    return response


# The name the agent and blocks used before the base class existed.
ChatModel = Model
