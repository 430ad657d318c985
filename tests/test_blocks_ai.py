"""AI blocks (llm_call, text_completion, embedding) and the agent block, with scripted models."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from forge.blocks import ai
from forge.blocks.adapters import run_block
from forge.blocks.agent_block import AgentBlock
from forge.blocks.ai import Embedding, LLMCall, TextCompletion
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialStore
from forge.models.base import LLMResponse, Model, Usage
from forge.models.scripted import ScriptedModel, decision


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    ai.clear_model_cache()
    yield
    ai.clear_model_cache()


@pytest.fixture
def ctx(settings, tmp_path: Path) -> BlockContext:
    return BlockContext(workspace=tmp_path / "files", settings=settings, credentials=CredentialStore(None, {}))


def run(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    return asyncio.run(run_block(block, data, ctx))


def script(tmp_path: Path, items: list[Any], name: str = "script.json", **extra: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"responses": items, **extra} if extra else items))
    return f"scripted/{path}"


# llm_call ------------------------------------------------------------------------------------
def test_llm_call_streams_chunks_then_response(ctx, tmp_path) -> None:
    model = script(tmp_path, ["The answer is forty two."])
    emitted = run(LLMCall, {"prompt": "question?", "model": model, "system_prompt": "Be brief."}, ctx)
    names = [n for n, _ in emitted]
    chunks = [v for n, v in emitted if n == "chunk"]
    assert len(chunks) > 1  # streamed in pieces...
    assert "".join(chunks) == "The answer is forty two."
    assert names[-2:] == ["response", "usage"] and set(names[:-2]) == {"chunk"}  # ...before the full text
    assert dict(emitted)["response"] == "The answer is forty two."
    cached = ai.get_cached_model(model, ctx.settings)
    assert isinstance(cached, ScriptedModel)
    assert cached.calls[0] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "question?"}]


def test_llm_call_defaults_to_settings_model_and_caches_it(ctx, tmp_path) -> None:
    ctx.settings.model = script(tmp_path, ["one", "two"])
    assert dict(run(LLMCall, {"prompt": "a"}, ctx))["response"] == "one"
    # The same instance serves the next call: the script advances instead of restarting.
    assert dict(run(LLMCall, {"prompt": "b"}, ctx))["response"] == "two"


def test_llm_call_reports_usage(ctx, tmp_path) -> None:
    model = ScriptedModel(["hi"], tokens_per_call=(12, 3), cost_per_call=0.5)
    ai._models[("fake-usage", None)] = model
    usage = dict(run(LLMCall, {"prompt": "x", "model": "fake-usage"}, ctx))["usage"]
    assert usage == {"prompt_tokens": 12, "completion_tokens": 3, "cost_usd": 0.5}


class GatedStream(Model):
    """Yields one piece, then waits until the consumer has seen it: passes only if chunks really
    reach the workflow while the model is still generating."""

    name = "gated"

    def __init__(self) -> None:
        self.seen_first = threading.Event()
        self.params: dict[str, Any] = {}

    async def stream(self, messages: list[dict[str, Any]], **params: Any) -> AsyncIterator[str]:  # type: ignore[override]
        self.params = params
        yield "first "
        for _ in range(50):
            if self.seen_first.is_set():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the first chunk was not delivered before the stream ended")
        yield "second"

    async def complete(self, messages: list[dict[str, Any]], **kw: Any) -> LLMResponse:
        raise AssertionError("stream() should be used")


def test_llm_call_chunks_arrive_while_generating(ctx) -> None:
    model = GatedStream()
    ai._models[("gated", None)] = model

    async def consume() -> list[tuple[str, Any]]:
        out = []
        parsed = LLMCall.Input.model_validate({"prompt": "p", "model": "gated", "temperature": 0.7, "max_tokens": 5})
        async for name, value in LLMCall().run(parsed, ctx):
            out.append((name, value))
            if name == "chunk":
                model.seen_first.set()
        return out

    out = asyncio.run(consume())
    assert [v for n, v in out if n == "chunk"] == ["first ", "second"]
    assert dict(out)["response"] == "first second"
    assert model.params["temperature"] == 0.7 and model.params["max_tokens"] == 5


class CompleteOnly(Model):
    """A user's model that implements only `complete`: the base class streams it as one chunk."""

    name = "complete-only"

    async def complete(self, messages: list[dict[str, Any]], **kw: Any) -> LLMResponse:
        return LLMResponse(content="whole answer", usage=Usage(1, 2, 0.0))


def test_llm_call_without_streaming_emits_one_chunk(ctx) -> None:
    ai._models[("complete-only", None)] = CompleteOnly()
    emitted = run(LLMCall, {"prompt": "p", "model": "complete-only"}, ctx)
    assert [(n, v) for n, v in emitted if n != "usage"] == [("chunk", "whole answer"), ("response", "whole answer")]


def test_llm_call_llm_error_propagates(ctx, tmp_path) -> None:
    from forge.errors import LLMError

    model = script(tmp_path, [])
    with pytest.raises(LLMError, match="ran out of responses"):
        run(LLMCall, {"prompt": "p", "model": model}, ctx)


def test_litellm_model_streams_offline(settings, monkeypatch) -> None:
    """LiteLLMModel.stream through litellm's own stream handling (mock_response: no network)."""
    from forge.models import LLMOptions, run_sync
    from forge.models.litellm_model import LiteLLMModel

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    model = LiteLLMModel("openai/gpt-4o-mini", LLMOptions.from_settings(settings))
    usages: list[Usage] = []

    async def collect() -> list[str]:
        stream = model.stream([{"role": "user", "content": "hi"}], mock_response="streamed reply text",
                              on_usage=usages.append, max_tokens=20)
        return [piece async for piece in stream]

    pieces = run_sync(collect())
    assert "".join(pieces) == "streamed reply text"
    assert len(usages) == 1


def test_text_completion(ctx, tmp_path) -> None:
    model = script(tmp_path, ["completed text"])
    assert run(TextCompletion, {"prompt": "Once upon", "model": model}, ctx) == [("text", "completed text")]
    assert ai.get_cached_model(model, ctx.settings).calls[0] == [{"role": "user", "content": "Once upon"}]  # type: ignore[attr-defined]


# embedding -----------------------------------------------------------------------------------
class FakeEmbedder:
    name = "fake"
    dim = 3

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(texts)
        return [[float(len(t)), 1.0, 0.0] for t in texts]


def test_embedding_single_and_list(ctx, monkeypatch) -> None:
    from forge.memory import embeddings

    fake = FakeEmbedder()
    names: list[str] = []
    monkeypatch.setattr(embeddings, "get_embedder", lambda name, settings=None: names.append(name) or fake)
    single = run(Embedding, {"text": "abcd"}, ctx)
    assert single == [("embedding", [4.0, 1.0, 0.0]), ("embeddings", [[4.0, 1.0, 0.0]])]
    many = run(Embedding, {"text": ["a", "bb"], "model": "other/model"}, ctx)
    assert many == [("embeddings", [[1.0, 1.0, 0.0], [2.0, 1.0, 0.0]])]
    assert names == [ctx.settings.embedding_model, "other/model"]


# agent ---------------------------------------------------------------------------------------
def test_agent_block_runs_a_scripted_agent_in_the_files_folder(ctx, tmp_path) -> None:
    model = script(tmp_path, [
        decision("write_file", path="hello.txt", content="hi from the agent"),
        decision("finish", reason="wrote hello.txt"),
    ])
    out = dict(run(AgentBlock, {"goal": "write hello.txt", "model": model, "max_iterations": 5}, ctx))
    assert out["status"] == "finished"
    assert out["result"] == "wrote hello.txt"
    assert (ctx.workspace / "hello.txt").read_text() == "hi from the agent"
    run_dir = ctx.settings.runs_dir() / out["run_id"]
    events = [json.loads(line)["type"] for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events[0] == "run_started" and events[-1] == "finished"


def test_agent_block_iteration_limit(ctx, tmp_path) -> None:
    model = script(tmp_path, [decision("list_folder", path=".")], repeat_last=True)
    out = dict(run(AgentBlock, {"goal": "loop", "model": model, "max_iterations": 2}, ctx))
    assert out["status"] == "iteration_limit" and "2 iterations" in out["result"]
    assert out["run_id"]


def _local_model_installed() -> bool:
    from forge.errors import ConfigError
    from forge.models.local import check_local_model

    try:
        check_local_model()
    except ConfigError:
        return False
    return True


@pytest.mark.skipif(not _local_model_installed(), reason="the embedded model is not installed")
def test_llm_call_streams_from_the_embedded_model(ctx) -> None:
    emitted = run(LLMCall, {"prompt": "Say hello.", "model": "local/smollm2", "max_tokens": 8}, ctx)
    chunks = [v for n, v in emitted if n == "chunk"]
    out = dict(emitted)
    assert len(chunks) > 1 and "".join(chunks) == out["response"] and out["response"].strip()
    assert out["usage"]["completion_tokens"] > 0 and out["usage"]["prompt_tokens"] > 0
