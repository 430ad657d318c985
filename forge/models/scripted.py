"""A scripted fake model, shipped in the library so tests (yours and ours) never touch a network.

    from forge.models import ScriptedModel
    model = ScriptedModel([
        {"thoughts": {"text": "look"}, "tool": "list_folder", "tool_args": {"path": "."}},
        {"thoughts": {"text": "done"}, "tool": "finish", "tool_args": {"reason": "listed"}},
    ])

Each call returns the next scripted item. Items may be a decision dict (sent as JSON content), a
raw string (to test bad output), an `LLMResponse`, an exception instance (raised), or a callable
`(messages) -> item`. `model.calls` keeps every message list received. The CLI accepts
`--model scripted/<path.json>` where the file holds a JSON list of items (dicts or strings), or
an object `{"responses": [...], "delay_s": 2, "tokens_per_call": [100, 20], "cost_per_call": 0.01}`:
`delay_s` makes each reply take that long, streamed word by word to a `progress` callback (to try a
live display against a slow model).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge.errors import ConfigError, LLMError
from forge.models.base import LLMResponse, Model, Usage

if TYPE_CHECKING:
    from forge.events.progress import ProgressCallback
    from forge.tools.base import Tool

ScriptItem = dict[str, Any] | str | LLMResponse | BaseException | Callable[[list[dict[str, Any]]], Any]


class ScriptExhaustedError(LLMError):
    pass


class ScriptedModel(Model):
    """Returns scripted responses in order; `repeat_last=True` keeps returning the last one."""

    def __init__(
        self,
        script: Sequence[ScriptItem],
        *,
        name: str = "scripted",
        cost_per_call: float = 0.0,
        tokens_per_call: tuple[int, int] = (0, 0),
        repeat_last: bool = False,
        context_window: int | None = None,
        delay_s: float = 0.0,
    ):
        self.script = list(script)
        self.name = name
        self.cost_per_call = cost_per_call
        self.tokens_per_call = tokens_per_call
        self.repeat_last = repeat_last
        self.calls: list[list[dict[str, Any]]] = []
        self._index = 0
        self._context_window = context_window
        self.delay_s = delay_s

    @property
    def context_window(self) -> int | None:
        return self._context_window

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptedModel:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"script file {p} not found; pass --model scripted/<path-to.json>") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"script file {p} is not valid JSON ({e}); fix the file") from None
        if isinstance(data, dict):
            kwargs.setdefault("cost_per_call", float(data.get("cost_per_call", 0.0)))
            kwargs.setdefault("repeat_last", bool(data.get("repeat_last", False)))
            kwargs.setdefault("delay_s", float(data.get("delay_s", 0.0)))
            if isinstance(data.get("tokens_per_call"), list) and len(data["tokens_per_call"]) == 2:
                kwargs.setdefault("tokens_per_call", tuple(int(n) for n in data["tokens_per_call"]))
            data = data.get("responses", [])
        if not isinstance(data, list):
            raise ConfigError(f"script file {p} must hold a JSON list of responses")
        return cls(data, name=f"scripted/{path}", **kwargs)

    @property
    def remaining(self) -> int:
        return max(0, len(self.script) - self._index)

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
    ) -> LLMResponse:
        return await self._reply(messages, None)

    async def complete_streamed(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
        progress: ProgressCallback,
    ) -> LLMResponse:
        return await self._reply(messages, progress)

    async def _reply(self, messages: list[dict[str, Any]], progress: ProgressCallback | None) -> LLMResponse:
        response = self.next_response(messages)
        if progress is None and not self.delay_s:
            return response
        from forge.events.progress import TokensReceived

        pieces = _words(response.content or "") or [""]
        for piece in pieces:  # streamed like a provider's reply, over delay_s
            if self.delay_s:
                await asyncio.sleep(self.delay_s / len(pieces))
            if progress is not None and piece:
                progress(TokensReceived(text=piece))
        return response

    def next_response(self, messages: list[dict[str, Any]]) -> LLMResponse:
        """The next scripted reply, synchronously (what `complete` returns)."""
        self.calls.append(messages)
        if self._index >= len(self.script):
            if not (self.repeat_last and self.script):
                raise ScriptExhaustedError(
                    f"scripted model ran out of responses after {len(self.script)} calls; "
                    "add more items to the script"
                )
            item = self.script[-1]
        else:
            item = self.script[self._index]
            self._index += 1
        if callable(item) and not isinstance(item, BaseException | LLMResponse):
            item = item(messages)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, LLMResponse):
            return item
        content = item if isinstance(item, str) else json.dumps(item)
        prompt_tokens, completion_tokens = self.tokens_per_call
        return LLMResponse(
            content=content,
            usage=Usage(prompt_tokens, completion_tokens, self.cost_per_call),
            model=self.name,
        )

    async def stream(  # type: ignore[override]
        self,
        messages: list[dict[str, Any]],
        *,
        on_usage: Callable[[Usage], None] | None = None,
        **_: Any,
    ) -> AsyncIterator[str]:
        """The next scripted reply, yielded word by word (whitespace kept) like a provider's stream."""
        response = self.next_response(messages)
        for piece in _words(response.content or ""):
            yield piece
        if on_usage is not None:
            on_usage(response.usage)


def _words(text: str) -> list[str]:
    """The text in word-sized pieces, whitespace kept."""
    return re.findall(r"\s*\S+\s*|\s+", text)


def decision(tool: str, thought: str = "", /, **tool_args: Any) -> dict[str, Any]:
    """Shorthand for a scripted decision: `decision("write_file", path="a.txt", content="hi")`.

    `tool` and `thought` are positional-only so any keyword is free to be a tool argument."""
    return {
        "thoughts": {"text": thought or f"use {tool}", "reasoning": "", "plan": "", "criticism": ""},
        "tool": tool,
        "tool_args": tool_args,
    }
