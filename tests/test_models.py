"""The Model base class and the library's promise not to change the host process."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from forge.models import LLMOptions, Model, ScriptedModel, decision, get_model, run_sync
from forge.models.base import LLMResponse


def test_constructing_models_and_an_agent_leaves_the_environment_alone(settings, tmp_path) -> None:
    """No os.environ writes, no .env loading, no warning filters from library code: only the
    application's explicit setup_environment() call may do that."""
    from forge.agent.agent import Agent
    from forge.models.litellm_model import LiteLLMModel
    from forge.tools.base import ToolRegistry

    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-a-dotenv-file\nAUTOGPT_SENTINEL=1\n")
    before, filters = dict(os.environ), list(warnings.filters)
    script = tmp_path / "script.json"
    script.write_text('[{"tool": "finish", "tool_args": {"reason": "ok"}}]')
    scripted = get_model(f"scripted/{script}")
    get_model("local/smollm2", LLMOptions(local_n_ctx=1024))
    api = get_model("openai/gpt-4o-mini", LLMOptions(api_key="sk-passed-as-an-argument"))  # imports litellm
    assert isinstance(api, LiteLLMModel) and api.count_tokens("hello world") == 2  # loads a tiktoken encoding
    Agent.start("a goal", settings, scripted, ToolRegistry.from_plugins())
    assert dict(os.environ) == before
    assert warnings.filters == filters


def test_the_cli_sets_the_environment_up(monkeypatch) -> None:
    import autogpt_cli.main as cli
    import forge.models.env as env

    calls: list[int] = []
    monkeypatch.setattr(env, "setup_environment", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(sys, "argv", ["autogpt", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert calls == [1]


def test_setup_environment_makes_litellm_offline() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("LITELLM_LOCAL_MODEL_COST_MAP", "HF_HUB_OFFLINE")}
    probe = (
        "import os; from forge.models.env import setup_environment; setup_environment(); "
        "print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'), os.environ.get('HF_HUB_OFFLINE'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == ["True", "1"], out.stderr


class Echo(Model):
    """The smallest useful model: only `complete`."""

    name = "echo"

    async def complete(self, messages, *, tools=(), decision_schema=None) -> LLMResponse:  # type: ignore[no-untyped-def]
        return LLMResponse(content=messages[-1]["content"])


def test_base_class_defaults_stream_and_budget() -> None:
    model = Echo()

    async def collect() -> list[str]:
        return [p async for p in model.stream([{"role": "user", "content": "one chunk"}])]

    assert run_sync(collect()) == ["one chunk"]
    assert model.context_window is None and model.max_reply_tokens == 4096
    assert model.count_tokens("") == 0 and model.count_tokens("abcdefgh") == 2
    assert not model.uses_native_tools([])


def test_run_sync_inside_a_running_loop() -> None:
    """Sync code called from async code (a tool inside a served agent) must not deadlock."""
    import asyncio

    model = ScriptedModel([decision("finish", reason="x")])

    async def outer() -> str | None:
        return run_sync(model.complete([])).content

    assert '"finish"' in (asyncio.run(outer()) or "")
