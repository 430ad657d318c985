"""Live model progress (forge.events.progress) from each backend, and the loop rules of issue 12:
edited actions, feedback that uses no iteration, a resumed pending action counted once, follow-ups."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from forge.agent.agent import AutoGPTAgent
from forge.agent.base import Verdict
from forge.config import Settings
from forge.errors import RunError
from forge.events import progress as pg
from forge.events.models import ActionEdited, FollowUp
from forge.models.base import LLMResponse, Model, complete_with_progress
from forge.models.scripted import ScriptedModel, decision
from forge.tools.base import Tool, ToolRegistry

MESSAGES = [{"role": "user", "content": "hi"}]


def test_scripted_reply_streams_tokens_between_start_and_finish():
    model = ScriptedModel([decision("finish", "all done", reason="ok")], delay_s=0.3, tokens_per_call=(10, 4))
    signals: list[Any] = []
    started = time.monotonic()
    response = asyncio.run(complete_with_progress(model, MESSAGES, progress=signals.append))
    assert time.monotonic() - started >= 0.3
    assert isinstance(signals[0], pg.CallStarted) and signals[0].messages == MESSAGES
    pieces = [s for s in signals if isinstance(s, pg.TokensReceived)]
    assert len(pieces) > 3 and "".join(p.text for p in pieces) == response.content
    end = signals[-1]
    assert isinstance(end, pg.CallFinished) and end.content == response.content and end.latency_s >= 0.3
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == (10, 4)


def test_a_model_written_before_progress_existed_still_works():
    class OldModel(Model):
        async def complete(self, messages: list[dict[str, Any]], *, tools: Sequence[Tool] = (),
                           decision_schema: dict[str, Any] | None = None) -> LLMResponse:
            return LLMResponse(content="hello")

    signals: list[Any] = []
    response = asyncio.run(complete_with_progress(OldModel(), MESSAGES, progress=signals.append))
    assert response.content == "hello"
    assert [type(s) for s in signals] == [pg.CallStarted, pg.CallFinished]


def test_a_failing_call_is_reported_then_raised():
    model = ScriptedModel([RuntimeError("boom")])
    signals: list[Any] = []
    with pytest.raises(RuntimeError):
        asyncio.run(complete_with_progress(model, MESSAGES, progress=signals.append))
    assert isinstance(signals[-1], pg.CallFinished) and signals[-1].error == "boom"


class FakeLlama:
    """llama.cpp's streaming chat completion: one chunk per token."""

    n_tokens = 0

    def create_chat_completion(self, messages: Any, stream: bool = False, **kwargs: Any) -> Any:
        assert stream and "grammar" in kwargs  # the decision is still constrained while streamed
        pieces = ['{"tool"', ': "', 'finish', '"}']
        self.n_tokens = 20 + len(pieces)
        return iter({"choices": [{"delta": {"content": p}}]} for p in pieces)


def test_local_model_streams_its_decision_with_the_grammar(monkeypatch: pytest.MonkeyPatch):
    from forge.models import local

    monkeypatch.setattr(local, "get_local_llama", lambda options=None, name="smollm2": FakeLlama())
    monkeypatch.setattr(local, "_grammar", lambda schema_json: "GRAMMAR")
    model = local.LocalModel.__new__(local.LocalModel)
    model.options, model.model_name, model.name, model.sampling = local.LLMOptions(), "smollm2", "local/smollm2", {}
    signals: list[Any] = []
    response = model.complete_blocking(MESSAGES, decision_schema={"type": "object"}, progress=signals.append)
    assert response.content == '{"tool": "finish"}'
    assert [s.text for s in signals] == ['{"tool"', ': "', "finish", '"}']
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (20, 4)


# The loop ------------------------------------------------------------------------------------------------
def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(workspace=tmp_path / "ws", memory=False, summary=False, sandbox="none", **kw)


def _tools() -> ToolRegistry:
    return ToolRegistry.from_plugins()


def test_the_agent_reports_each_model_call_to_its_progress_callback(tmp_path: Path):
    signals: list[Any] = []
    model = ScriptedModel([decision("finish", reason="ok")])
    agent = AutoGPTAgent.start("goal", _settings(tmp_path), model, _tools(), progress=signals.append)
    assert agent.run_sync().status.value == "finished"
    kinds = [s.kind for s in signals]
    assert kinds[0] == "call_started" and "tokens" in kinds and kinds[-1] == "call_finished"
    assert "goal" in json.dumps(signals[0].messages)


def test_edited_arguments_run_and_are_recorded_as_the_users(tmp_path: Path):
    settings = _settings(tmp_path)
    model = ScriptedModel([decision("write_file", path="a.txt", content="model"), decision("finish", reason="ok")])
    agent = AutoGPTAgent.start("goal", settings, model, _tools())
    answers = iter([Verdict(args={"path": "b.txt", "content": "mine"}), Verdict()])
    assert agent.run_sync(lambda proposal: next(answers)).status.value == "finished"
    ws = settings.agent_workspace()
    assert (ws / "b.txt").read_text() == "mine" and not (ws / "a.txt").exists()
    edited = [e for e in agent.log.events() if isinstance(e, ActionEdited)]
    assert edited[0].tool_args == {"path": "b.txt", "content": "mine"} and edited[0].by == "user"
    assert "mine" in json.dumps(model.calls[1])  # the next prompt shows what really ran


def test_feedback_uses_up_no_iteration(tmp_path: Path):
    model = ScriptedModel([decision("write_file", path=f"{i}.txt", content="x") for i in range(4)])
    agent = AutoGPTAgent.start("goal", _settings(tmp_path, max_iterations=2), model, _tools())
    answers = iter([Verdict(run=False, feedback="other name"), Verdict(), Verdict()])
    outcome = agent.run_sync(lambda proposal: next(answers))
    assert outcome.status.value == "iteration_limit"
    assert sorted(p.name for p in agent.workspace.iterdir()) == ["1.txt", "2.txt"]  # two actions ran


def test_resumed_pending_action_counts_as_one_of_the_iterations(tmp_path: Path):
    settings = _settings(tmp_path)
    script = [decision("write_file", path=f"{i}.txt", content="x") for i in range(6)]
    first = AutoGPTAgent.start("goal", settings, ScriptedModel(script), _tools())
    assert first.run_sync(lambda proposal: Verdict(run=False, quit=True)).status.value == "user_quit"
    resumed = AutoGPTAgent.resume(first.run_id, _settings(tmp_path, max_iterations=3),
                                  ScriptedModel(script[1:]), _tools())
    assert resumed.run_sync().status.value == "iteration_limit"
    assert sorted(p.name for p in resumed.workspace.iterdir()) == ["0.txt", "1.txt", "2.txt"]  # 3, not 4


def test_follow_up_goes_on_with_the_same_run_history_and_workspace(tmp_path: Path):
    settings = _settings(tmp_path)
    first = AutoGPTAgent.start("write a.txt", settings, ScriptedModel(
        [decision("write_file", path="a.txt", content="A"), decision("finish", reason="wrote a")]), _tools())
    assert first.run_sync().status.value == "finished"
    with pytest.raises(RunError, match="--continue"):
        AutoGPTAgent.resume(first.run_id, settings, ScriptedModel([]), _tools())

    model = ScriptedModel([decision("write_file", path="b.txt", content="B"), decision("finish", reason="wrote b")])
    agent = AutoGPTAgent.follow_up(first.run_id, "now also write b.txt", settings, model, _tools())
    assert agent.run_id == first.run_id and len(agent.history) == 2
    assert agent.run_sync().status.value == "finished"
    prompt = json.dumps(model.calls[0])
    assert "now also write b.txt" in prompt and "a.txt" in prompt  # the instruction, and what was done
    assert sorted(p.name for p in agent.workspace.iterdir()) == ["a.txt", "b.txt"]
    assert [e.text for e in agent.log.events() if isinstance(e, FollowUp)] == ["now also write b.txt"]


def test_follow_up_of_an_unfinished_run_names_resume(tmp_path: Path):
    settings = _settings(tmp_path)
    first = AutoGPTAgent.start("goal", settings, ScriptedModel([decision("list_folder", path=".")]), _tools())
    first.run_sync(lambda proposal: Verdict(run=False, quit=True))
    with pytest.raises(RunError, match=f"autogpt run --resume {first.run_id}"):
        AutoGPTAgent.follow_up(first.run_id, "more", settings, ScriptedModel([]), _tools())


def test_history_summaries_are_reported_like_decisions():
    from forge.agent.history import StepRecord
    from forge.memory.short_term import Summarizer

    signals: list[Any] = []
    summarizer = Summarizer(ScriptedModel(["Wrote a.txt."]), signals.append)
    records = [StepRecord(step=1, decision=decision("write_file", path="a.txt", content="x"), output="ok")]
    summary, _ = asyncio.run(summarizer.summarize(records))
    assert summary.text == "Wrote a.txt."
    assert [s.kind for s in signals if s.kind != "tokens"] == ["call_started", "call_finished"]
