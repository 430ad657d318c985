"""The chat-model interface the agent talks to, and what a call returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from forge.tools.base import Tool


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


class ChatModel(Protocol):
    """Anything that can produce a decision: litellm-backed models and the scripted fake."""

    name: str

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
    ) -> LLMResponse:
        """Return the next decision. `tools` enables native function calling where the provider
        has it; `decision_schema` is the strict JSON schema of a whole decision, used for
        schema-constrained decoding (embedded model) or JSON mode."""
        ...

    def count_tokens(self, text: str) -> int:
        ...

    def close(self) -> None:
        ...
