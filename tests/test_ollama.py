"""`ollama/NAME` and `ollama_chat/NAME` against a fake Ollama server on 127.0.0.1: listing, decisions as
structured output (the decision's JSON schema sent as Ollama's `format`), and a missing server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_servers import FakeOllama

from forge.agent.decision import decision_schema, parse_decision
from forge.errors import ModelNotFoundError, ModelServerUnavailableError
from forge.models import LLMOptions, get_model, run_sync
from forge.models.ollama import OllamaModel, list_models, server_url
from forge.models.scripted import decision
from forge.tools.base import ToolRegistry

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
# litellm's Ollama response types trip a pydantic notice that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Items .* are using the `ReadOnly` qualifier:UserWarning")
MESSAGES = [{"role": "system", "content": "You are an agent."}, {"role": "user", "content": "Write hi to a.txt"}]


@pytest.fixture
def ollama():
    fake = FakeOllama(models=["qwen2.5:3b", "llama3.2:latest"])
    fake.url = fake.start()
    yield fake
    fake.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGPT_", "OLLAMA"))}
    full.update(env or {})
    return subprocess.run([AUTOGPT, *args, "--workspace", str(tmp_path / "ws")], capture_output=True, text=True,
                          env=full, cwd=tmp_path, timeout=120)


def test_list_shows_the_servers_models(tmp_path: Path, ollama: FakeOllama) -> None:
    host = ollama.url.removeprefix("http://")  # OLLAMA_HOST as the ollama CLI takes it: host:port
    out = cli(tmp_path, "models", "list", "--json", env={"OLLAMA_HOST": host})
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads(out.stdout)}
    assert rows["ollama/qwen2.5:3b"]["source"] == f"ollama {ollama.url}"
    assert rows["ollama/qwen2.5:3b"]["size_bytes"] == 1_900_000_000 and "ollama/llama3.2:latest" in rows

    out = cli(tmp_path, "models", "info", "ollama/qwen2.5:3b", "--json", env={"OLLAMA_HOST": host})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert (info["context_length"], info["quantisation"], info["architecture"]) == (32768, "Q4_K_M", "qwen2")


def test_list_is_quick_and_silent_without_a_server(tmp_path: Path) -> None:
    start = time.monotonic()
    out = cli(tmp_path, "models", "list", "--json", env={"OLLAMA_HOST": f"127.0.0.1:{closed_port()}"})
    assert out.returncode == 0 and out.stderr == ""
    assert not any(r["model"].startswith("ollama/") for r in json.loads(out.stdout))
    assert time.monotonic() - start < 30  # a process start, not a wait on the missing server
    assert list_models(f"http://127.0.0.1:{closed_port()}") is None


@pytest.mark.parametrize("prefix, endpoint", [("ollama_chat/", "/api/chat"), ("ollama/", "/api/generate")])
def test_a_decision_is_requested_with_the_schema_as_format(ollama: FakeOllama, prefix: str, endpoint: str) -> None:
    tools = ToolRegistry.from_plugins()
    schema = decision_schema(tools)
    ollama.reply = json.dumps(decision("write_file", path="a.txt", content="hi"))
    model = get_model(f"{prefix}qwen2.5:3b", LLMOptions(ollama_host=ollama.url, local_n_ctx=8192))
    assert isinstance(model, OllamaModel) and model.context_window == 8192  # min(setting, model's 32768)
    response = run_sync(model.complete(MESSAGES, tools=list(tools), decision_schema=schema))
    assert parse_decision(response).tool == "write_file"
    path, body = next((p, b) for p, b in ollama.bodies if p == endpoint)
    assert body["format"] == schema  # structured output: Ollama decodes against the decision schema
    assert body["options"]["num_ctx"] == 8192  # else Ollama silently truncates to its own default
    assert "tools" not in body


def test_agent_run_through_ollama(tmp_path: Path, ollama: FakeOllama) -> None:
    ollama.reply = json.dumps(decision("finish", reason="done"))
    out = cli(tmp_path, "run", "Say done", "--model", "ollama_chat/qwen2.5:3b", "--api-base", ollama.url,
              "--continuous", "--max-iterations", "1", "--no-memory", "--json")
    assert out.returncode == 0, out.stderr
    bodies = [b for p, b in ollama.bodies if p == "/api/chat"]
    tools = ToolRegistry([t for t in ToolRegistry.from_plugins() if t.name not in ("remember", "recall")])
    assert len(bodies) == 1 and bodies[0]["model"] == "qwen2.5:3b"
    assert bodies[0]["format"] == decision_schema(tools)  # the agent's own decision schema, --no-memory's tools
    assert json.loads(out.stdout.splitlines()[-1])["status"] == "finished"


def test_a_missing_server_is_one_line_with_its_own_exit_code(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    out = cli(tmp_path, "run", "x", "--model", "ollama/qwen2.5:3b", "--api-base", url)
    assert out.returncode == 10, out.stderr
    assert out.stderr.strip() == f"error: no Ollama server at {url}; start `ollama serve` or check --api-base"
    assert time.monotonic() - start < 30  # no retries with backoff


def test_a_model_the_server_lacks_names_ollama_pull(ollama: FakeOllama) -> None:
    with pytest.raises(ModelNotFoundError, match=r"run `ollama pull mistral`"):
        get_model("ollama/mistral", LLMOptions(api_base=ollama.url))
    assert isinstance(get_model("ollama/llama3.2", LLMOptions(api_base=ollama.url)), OllamaModel)  # :latest


def test_a_server_gone_mid_run_is_not_retried(ollama: FakeOllama) -> None:
    model = get_model("ollama_chat/qwen2.5:3b", LLMOptions(ollama_host=ollama.url, max_retries=4))
    ollama.stop()
    start = time.monotonic()
    with pytest.raises(ModelServerUnavailableError, match="no Ollama server at"):
        run_sync(model.complete(MESSAGES, decision_schema={"type": "object"}))
    assert time.monotonic() - start < 5


def test_server_url_forms() -> None:
    assert server_url() == "http://127.0.0.1:11434"
    assert server_url(host="0.0.0.0") == "http://127.0.0.1:11434"
    assert server_url(host="myhost:8080") == "http://myhost:8080"
    assert server_url(host="https://ollama.example") == "https://ollama.example:11434"
    assert server_url("http://127.0.0.1:11434/v1/", host="ignored:1") == "http://127.0.0.1:11434"
