"""Live signals of one model call, for displays: the call starts, tokens arrive, it is retried, it ends.

They are handed to a callback passed as an argument (`progress=`), never written to the run log: one
signal per token would swamp it, and the log already records each decision with its usage.

    def show(signal: ModelSignal) -> None:
        if isinstance(signal, TokensReceived):
            counter.add(signal.tokens)

    response = await complete_with_progress(model, messages, progress=show)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from forge.events.models import UsageFields


class CallStarted(BaseModel):
    kind: Literal["call_started"] = "call_started"
    model: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)  # the prompt as sent


class TokensReceived(BaseModel):
    """A piece of the reply as the model streams it; `tokens` is how many tokens it holds (about)."""

    kind: Literal["tokens"] = "tokens"
    text: str = ""
    tokens: int = 1


class CallRetried(BaseModel):
    """The provider failed; the call is tried again after `delay_s`."""

    kind: Literal["retry"] = "retry"
    attempt: int  # the attempt that failed, from 1
    error: str
    delay_s: float = 0.0


class CallFinished(BaseModel):
    kind: Literal["call_finished"] = "call_finished"
    model: str = ""
    content: str | None = None  # the raw reply
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: UsageFields = Field(default_factory=UsageFields)
    latency_s: float = 0.0
    error: str | None = None  # set when the call raised


ModelSignal = CallStarted | TokensReceived | CallRetried | CallFinished
ModelProgress = Annotated[ModelSignal, Field(discriminator="kind")]  # for parsing one from JSON
ProgressCallback = Callable[[ModelSignal], None]
