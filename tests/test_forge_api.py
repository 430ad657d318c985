"""Forge as a framework: the README's example, the base agent's steps and components, typed events."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import forge
from forge import (
    AgentConfig,
    BaseAgent,
    Component,
    MemorySink,
    RunLog,
    ScriptedModel,
    Status,
    StopRun,
    ToolRegistry,
    Verdict,
    tool,
)
from forge.events import models as ev
from forge.tools.builtin import finish

ROOT = Path(__file__).resolve().parents[1]


def d(tool_name: str, text: str = "t", **args: object) -> dict:
    return {"thoughts": {"text": text}, "tool": tool_name, "tool_args": args}


@tool
def add(a: int, b: int) -> str:
    """Add two numbers.

    Args:
        a: First.
        b: Second.
    """
    return str(a + b)


def registry() -> ToolRegistry:
    return ToolRegistry([add, finish])


def test_readme_example_runs_as_written(tmp_path):
    text = (ROOT / "forge" / "README.md").read_text()
    code = re.search(r"## Your agent in 20 lines\n\n```python\n(.*?)```", text, re.S)
    assert code, "forge/README.md lost its example"
    script = tmp_path / "example.py"
    script.write_text(code.group(1))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == ["-> word_count", "-> finish"]
    assert "finished: it has 3 words" in out.stdout


def test_public_api_names_resolve_and_unknown_names_fail():
    for name in forge.__all__:
        assert getattr(forge, name) is not None
    with pytest.raises(AttributeError):
        forge.NoSuchThing  # noqa: B018


def test_base_agent_runs_in_memory_without_touching_disk_or_environment(tmp_path):
    before = dict(os.environ)
    model = ScriptedModel([d("add", a=2, b=3), d("finish", reason="5")])
    agent = BaseAgent("add 2 and 3", model=model, tools=registry(), workspace=tmp_path / "ws")
    outcome = agent.run_sync()
    assert outcome.status is Status.FINISHED and outcome.reason == "5"
    assert [type(e).__name__ for e in agent.sink.events()] == [
        "RunStarted", "StepStarted", "PromptBuilt", "DecisionMade", "ToolStarted", "ToolResult",
        "StepStarted", "PromptBuilt", "DecisionMade", "ToolStarted", "ToolResult", "Finished",
    ]
    results = [e for e in agent.sink.events() if isinstance(e, ev.ToolResult)]
    assert results[0].output == "5" and results[0].ok
    assert not (tmp_path / "ws").exists()  # nothing written: no run log, no folders
    assert dict(os.environ) == before


def test_components_hooks_run_in_order_and_can_stop_the_run(tmp_path):
    calls: list[str] = []

    class Recorder(Component):
        def prompt_sections(self, agent, step):
            calls.append(f"prompt {step}")
            return f"Remember: step {step}"

        async def after_decision(self, agent, proposal):
            calls.append(f"decided {proposal.decision.tool}")
            if proposal.decision.tool_args.get("a") == 99:
                raise StopRun(Status.STUCK, "no 99s")

        def after_execute(self, agent, record):
            calls.append(f"ran {record.decision['tool']} -> {record.output}")

    model = ScriptedModel([d("add", a=1, b=1), d("add", a=99, b=1)])
    agent = BaseAgent("x", model=model, tools=registry(), workspace=tmp_path, components=[Recorder()])
    outcome = agent.run_sync()
    assert outcome.status is Status.STUCK and outcome.reason == "no 99s"
    assert calls == ["prompt 1", "decided add", "ran add -> 2", "prompt 2", "decided add"]
    assert "Remember: step 2" in model.calls[1][-1]["content"]


def test_overriding_a_step_and_feedback_through_an_async_approver(tmp_path):
    class Audited(BaseAgent):
        executed: list[str] = []

        async def execute(self, proposal):
            self.executed.append(proposal.decision.tool)
            return await super().execute(proposal)

    async def approve(proposal):
        await asyncio.sleep(0)
        return Verdict(feedback="use b=10") if proposal.decision.tool_args.get("b") == 1 else Verdict()

    model = ScriptedModel([d("add", a=1, b=1), d("add", a=1, b=10), d("finish", reason="11")])
    agent = Audited("x", model=model, tools=registry(), workspace=tmp_path)
    outcome = asyncio.run(agent.run(approve))
    assert outcome.status is Status.FINISHED and agent.executed == ["add", "finish"]
    assert "use b=10" in model.calls[1][-1]["content"] or any("use b=10" in m["content"] for m in model.calls[1])


def test_limits_come_from_agent_config(tmp_path):
    model = ScriptedModel([d("add", str(i), a=i, b=0) for i in range(5)])
    agent = BaseAgent("x", model=model, tools=registry(), workspace=tmp_path, config=AgentConfig(max_iterations=2))
    outcome = agent.run_sync()
    assert outcome.status is Status.ITERATION_LIMIT and len(model.calls) == 2


def test_run_log_resume_through_from_events(tmp_path):
    log = RunLog.create(tmp_path / "runs")
    model = ScriptedModel([d("add", a=1, b=2)])
    agent = BaseAgent("sum", model=model, tools=registry(), workspace=tmp_path, sink=log)
    assert asyncio.run(agent.step()) is None
    log.close()
    again = RunLog.open(tmp_path / "runs", log.run_id)
    resumed = BaseAgent.from_events(again, model=ScriptedModel([d("finish", reason="3")]), tools=registry(),
                                    workspace=tmp_path)
    assert resumed.goal == "sum" and len(resumed.history) == 1 and resumed.history[0].output == "3"
    assert resumed.run_sync().status is Status.FINISHED
    kinds = [e.type for e in RunLog(again.dir).events()]
    assert kinds.count("run_started") == 1 and "resumed" in kinds and kinds[-1] == "finished"


def test_old_log_lines_and_unknown_events_still_load(tmp_path):
    run = tmp_path / "r1"
    run.mkdir()
    lines = [
        {"seq": 1, "ts": 1.0, "type": "run_started", "run_id": "r1", "goal": "g", "model": "m", "profile": {}},
        {"seq": 2, "ts": 2.0, "type": "step_started", "step": 1},
        {"seq": 3, "ts": 3.0, "type": "decision", "step": 1, "decision": d("add", a=1, b=1),
         "usage": {"prompt_tokens": 5, "completion_tokens": 2, "cost_usd": 0.0}},
        {"seq": 4, "ts": 4.0, "type": "from_the_future", "step": 1, "whatever": [1, 2]},
        {"seq": 5, "ts": 5.0, "type": "tool_result", "step": 1, "tool": "add", "ok": True, "output": "2"},
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    events = list(RunLog(run).events())
    assert [type(e) for e in events] == [ev.RunStarted, ev.StepStarted, ev.DecisionMade, ev.UnknownEvent,
                                         ev.ToolResult]
    assert events[2].usage.prompt_tokens == 5 and events[3].whatever == [1, 2]  # type: ignore[attr-defined]
    # written back, an event is the same JSON object
    assert json.loads(events[4].to_json()) == {**lines[4], "interrupted": False}


def test_memory_sink_redacts_like_the_run_log(tmp_path):
    sink = MemorySink()
    model = ScriptedModel([d("finish", "key sk-abcdefghijklmnopqrstuvwxyz0123", reason="done")])
    BaseAgent("use sk-abcdefghijklmnopqrstuvwxyz0123", model=model, tools=registry(), workspace=tmp_path,
              sink=sink).run_sync()
    dumped = "".join(e.to_json() for e in sink.events())
    assert "sk-abcdefghijklmnopqrstuvwxyz0123" not in dumped and "[REDACTED]" in dumped
