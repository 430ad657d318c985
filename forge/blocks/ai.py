"""AI blocks: chat completion (streamed), plain completion and embeddings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pydantic import Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, EmptyModel
from forge.errors import ConfigError
from forge.models.base import Model, Usage

if TYPE_CHECKING:
    from forge.config import Settings

# Loading a model is not free (the embedded one takes ~0.5 s, API ones import litellm): one
# instance per (model, api_base) serves every node and run of the process.
_models: dict[tuple[str, str | None], Model] = {}
_models_lock = threading.Lock()


def get_cached_model(name: str, settings: Settings) -> Model:
    from forge.models import LLMOptions, get_model

    key = (name, settings.api_base)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = get_model(name, LLMOptions.from_settings(settings))
        return model


def clear_model_cache() -> None:
    with _models_lock:
        _models.clear()


async def _generate(
    ctx: BlockContext, model_name: str | None, messages: list[dict[str, Any]], **params: Any
) -> AsyncIterator[tuple[str, Any]]:
    """Yield ("chunk", text) while the model streams, then ("usage", Usage)."""
    model = get_cached_model(model_name or ctx.settings.model, ctx.settings)
    usage = Usage()

    def keep(u: Usage) -> None:
        nonlocal usage
        usage = u

    async for piece in model.stream(messages, on_usage=keep, **params):
        yield "chunk", piece
    yield "usage", usage


class LLMCall(Block):
    id = "llm_call"
    name = "LLM call"
    description = (
        "Ask a language model. Streams the answer on `chunk` as it is generated and emits the full "
        "text on `response` at the end, with token usage and cost on `usage`."
    )
    categories = (BlockCategory.AI,)
    cacheable = False  # a model's answer is fresh data (and temperature may be > 0)
    effect = Effect.READ
    main_input = "prompt"
    main_output = "response"

    class Input(EmptyModel):
        prompt: str = Field(description="The user message.")
        model: str | None = Field(
            None, description="litellm model string (openai/gpt-4o-mini, local/smollm2); default: the configured model"
        )
        system_prompt: str = Field("", description="Optional system message.")
        temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature; default: the setting.")
        max_tokens: int | None = Field(None, ge=1, description="Cap on the answer's length in tokens.")

    class Output(EmptyModel):
        response: str = Field(description="The complete answer.")
        chunk: str = Field(description="Pieces of the answer, emitted as they arrive.")
        usage: dict[str, Any] = Field(description="prompt_tokens, completion_tokens, cost_usd.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        messages = [{"role": "system", "content": input.system_prompt}] if input.system_prompt else []
        messages.append({"role": "user", "content": input.prompt})
        parts: list[str] = []
        usage = Usage()
        async for name, value in _generate(
            ctx, input.model, messages, temperature=_temperature(input.temperature, ctx), max_tokens=input.max_tokens
        ):
            if name == "chunk":
                parts.append(value)
                yield "chunk", value
            else:
                usage = value
        yield "response", "".join(parts)
        yield "usage", usage.to_dict()


def _temperature(value: float | None, ctx: BlockContext) -> float:
    return ctx.settings.temperature if value is None else value


class TextCompletion(Block):
    id = "text_completion"
    name = "Text completion"
    description = "Complete a prompt with a language model (no system prompt) and return the whole text."
    categories = (BlockCategory.AI,)
    cacheable = False
    effect = Effect.READ

    class Input(EmptyModel):
        prompt: str = Field(description="The text to complete or the instruction to follow.")
        model: str | None = Field(None, description="litellm model string; default: the configured model.")
        temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
        max_tokens: int | None = Field(None, ge=1, description="Cap on the answer's length in tokens.")

    class Output(EmptyModel):
        text: str = Field(description="The model's completion.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        parts = [
            value
            async for name, value in _generate(
                ctx,
                input.model,
                [{"role": "user", "content": input.prompt}],
                temperature=_temperature(input.temperature, ctx),
                max_tokens=input.max_tokens,
            )
            if name == "chunk"
        ]
        yield "text", "".join(parts)


class Embedding(Block):
    id = "embedding"
    name = "Embedding"
    description = (
        "Turn text into embedding vectors (offline MiniLM by default). A single text emits "
        "`embedding` and `embeddings`; a list of texts emits `embeddings` only."
    )
    categories = (BlockCategory.AI,)
    effect = Effect.READ  # may call a model API

    class Input(EmptyModel):
        text: str | list[str] = Field(description="A text or a list of texts.")
        model: str | None = Field(None, description="Embedding model; default: the embedding_model setting.")

    class Output(EmptyModel):
        embedding: list[float] = Field(description="The vector of a single input text.")
        embeddings: list[list[float]] = Field(description="One vector per input text, in order.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        try:
            from forge.memory.embeddings import get_embedder
        except ImportError:
            raise ConfigError("embeddings are unavailable: forge.memory.embeddings is missing; reinstall") from None
        texts = [input.text] if isinstance(input.text, str) else list(input.text)
        embedder = get_embedder(input.model or ctx.settings.embedding_model, ctx.settings)
        vectors = [list(map(float, v)) for v in await asyncio.to_thread(embedder.embed, texts)] if texts else []
        if isinstance(input.text, str):
            yield "embedding", vectors[0]
        yield "embeddings", vectors
