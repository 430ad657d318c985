"""Loop mechanics with the scripted fake model: every ending, recovery, approval, resume."""

from __future__ import annotations

import asyncio
import json

import pytest

from forge.agent import loop
from forge.agent.agent import Agent
from forge.agent.base import Verdict
from forge.agent.outcome import EXIT_CODES, Status
from forge.models.scripted import ScriptedModel, decision
from forge.runs.log import read_events, read_state
from forge.tools.base import ToolContext, ToolRegistry, tool

CALLS: list[str] = []


@tool
def note(text: str) -> str:
    """Remember a note.

    Args:
        text: The note.
    """
    CALLS.append(text)
    return f"noted {text}"


@tool
def crash(ctx: ToolContext) -> str:
    """Simulate the process being killed while a tool runs."""
    CALLS.append("crash")
    raise SystemExit(137)


@tool(ends_run=True)
def finish(reason: str) -> str:
    """End the run.

    Args:
        reason: Why.
    """
    return reason


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def registry() -> ToolRegistry:
    return ToolRegistry([note, crash, finish])


def start(settings, script, **kw) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(script, **kw)
    return Agent.start("test the loop", settings, model, registry()), model


def event_types(agent: Agent) -> list[str]:
    return [e["type"] for e in read_events(agent.log.dir)]


def test_runs_tools_until_finish(settings):
    agent, model = start(settings, [decision("note", text="a"), decision("note", text="b"),
                                    decision("finish", reason="all noted")])
    outcome = loop.run(agent)
    assert outcome.status is Status.FINISHED and outcome.exit_code == 0
    assert outcome.reason == "all noted"
    assert CALLS == ["a", "b"]
    assert outcome.steps == 3
    types = event_types(agent)
    assert types[0] == "run_started" and types[-1] == "finished"
    assert types.count("tool_result") == 3
    state = read_state(agent.log.dir)
    assert state["status"] == "finished" and state["steps"] == 3
    # the second prompt shows the first result to the model
    assert "noted a" in json.dumps(model.calls[1])
    assert "note x2" in outcome.summary and "finish x1" in outcome.summary


def test_invalid_decisions_are_fed_back_and_recovered(settings):
    agent, model = start(settings, [
        "this is not json",
        decision("teleport", where="moon"),
        decision("note", text="ok"),
        decision("note", wrong_arg="x"),
        decision("finish", reason="done"),
    ])
    outcome = loop.run(agent)
    assert outcome.status is Status.FINISHED
    assert CALLS == ["ok"]
    prompts = [json.dumps(m) for m in model.calls]
    assert "not a JSON object" in prompts[1]
    assert "unknown tool 'teleport'" in prompts[2] and "note, crash, finish" in prompts[2]
    assert "wrong_arg" in prompts[4]
    assert event_types(agent).count("invalid_decision") == 3


def test_three_invalid_in_a_row_stop_the_run(settings):
    agent, _ = start(settings, ["nope", "{}", '{"tool": 5}', decision("finish", reason="never")])
    outcome = loop.run(agent)
    assert outcome.status is Status.INVALID_DECISIONS
    assert outcome.exit_code == EXIT_CODES[Status.INVALID_DECISIONS] == 8
    assert "3 invalid decisions in a row" in outcome.reason


def test_stuck_repeating_the_same_call_warns_then_stops(settings):
    same = decision("note", text="again")
    agent, model = start(settings, [same] * 5)
    outcome = loop.run(agent)
    assert outcome.status is Status.STUCK and outcome.exit_code == 5
    assert CALLS == ["again"] * 3  # the fourth identical call is refused, not run
    assert "same arguments 3 times" in json.dumps(model.calls[3])
    assert "warning" in event_types(agent)


def test_iteration_limit(settings):
    settings.max_iterations = 2
    agent, _ = start(settings, [decision("note", text=str(i)) for i in range(5)])
    outcome = loop.run(agent)
    assert outcome.status is Status.ITERATION_LIMIT and outcome.exit_code == 3
    assert CALLS == ["0", "1"]


def test_budget_stops_the_run(settings):
    settings.budget_usd = 0.025
    agent, model = start(settings, [decision("note", text=str(i)) for i in range(10)], cost_per_call=0.01)
    outcome = loop.run(agent)
    assert outcome.status is Status.BUDGET and outcome.exit_code == 4
    assert len(model.calls) == 3  # 0.03 >= 0.025 after the third call
    assert read_state(agent.log.dir)["cost_usd"] == pytest.approx(0.03)


def test_approval_feedback_is_recorded_and_not_run(settings):
    agent, model = start(settings, [decision("note", text="risky"), decision("note", text="safe"),
                                    decision("finish", reason="ok")])
    from autogpt_cli.approval import InteractiveApprover

    answers = iter(["please do something safer", "y", "y"])
    outcome = loop.run(agent, InteractiveApprover(ask=lambda _: next(answers)))
    assert outcome.status is Status.FINISHED
    assert CALLS == ["safe"]
    assert "please do something safer" in json.dumps(model.calls[1])
    assert "user_feedback" in event_types(agent)


def test_approver_y_n_and_y_minus_n():
    from autogpt_cli.approval import InteractiveApprover

    answers = iter(["", "y -3", "n"])
    approver = InteractiveApprover(ask=lambda _: next(answers))
    verdicts = [approver(None) for _ in range(4)]  # type: ignore[arg-type]
    assert [v.run for v in verdicts] == [True, True, True, False]  # y -3 covers three actions
    assert verdicts[3].quit
    assert InteractiveApprover(ask=lambda _: (_ for _ in ()).throw(EOFError))(None).quit  # type: ignore[arg-type]


def test_ctrl_c_in_continuous_mode_pauses_then_quits():
    from autogpt_cli.approval import InteractiveApprover

    approver = InteractiveApprover(continuous=True, ask=lambda _: "y", notify=lambda _: None)
    assert approver(None).run  # type: ignore[arg-type]
    assert approver.interrupt() is True  # first Ctrl-C: back to asking
    assert approver.auto_left == 0
    assert approver.interrupt() is False  # second: the caller quits


def test_keyboard_interrupt_saves_state_as_user_quit(settings):
    def boom(_messages):
        raise KeyboardInterrupt

    agent, _ = start(settings, [decision("note", text="a"), boom])
    outcome = loop.run(agent)
    assert outcome.status is Status.USER_QUIT and outcome.exit_code == 6
    assert read_state(agent.log.dir)["status"] == "user_quit"


def test_resume_after_kill_does_not_repeat_a_tool_that_ran(settings):
    agent, _ = start(settings, [decision("note", text="first"), decision("crash")])
    with pytest.raises(SystemExit):
        loop.run(agent)  # "killed" while crash runs: no tool_result, no finished event
    assert CALLS == ["first", "crash"]
    run_id = agent.log.run_id
    agent.log.close()  # a killed process's descriptors, its driver lock among them, die with it

    model = ScriptedModel([decision("note", text="after"), decision("finish", reason="resumed fine")])
    resumed = Agent.resume(run_id, settings, model, registry())
    assert [r.step for r in resumed.history] == [1, 2]
    assert resumed.history[1].ok is False and "interrupted" in (resumed.history[1].output or "")
    outcome = loop.run(resumed)
    assert outcome.status is Status.FINISHED
    assert CALLS == ["first", "crash", "after"]  # crash was not run again
    assert "interrupted" in json.dumps(model.calls[0])
    steps = [e.get("step") for e in read_events(agent.log.dir) if e["type"] == "step_started"]
    assert steps == [1, 2, 3, 4]


def test_resume_reasks_a_decision_that_was_never_approved(settings):
    agent, _ = start(settings, [decision("note", text="pending")])
    with pytest.raises(SystemExit):
        loop.step(agent, lambda p: (_ for _ in ()).throw(SystemExit(1)))
    agent.log.close()  # as the process's death would
    model = ScriptedModel([decision("finish", reason="x")])
    resumed = Agent.resume(agent.log.run_id, settings, model, registry())
    assert resumed.pending is not None and resumed.pending.decision.tool_args == {"text": "pending"}
    outcome = loop.run(resumed)
    assert CALLS == ["pending"] and outcome.status is Status.FINISHED
    assert len(model.calls) == 1  # the pending decision was not asked for again


def test_finished_run_cannot_be_resumed(settings):
    from forge.errors import RunError

    agent, _ = start(settings, [decision("finish", reason="x")])
    loop.run(agent)
    with pytest.raises(RunError, match="already finished"):
        Agent.resume(agent.log.run_id, settings, ScriptedModel([]), registry())


def test_step_drives_one_cycle_at_a_time(settings):
    agent, _ = start(settings, [decision("note", text="one"), decision("finish", reason="two")])
    assert loop.step(agent, user_input="hello") is None
    assert CALLS == ["one"]
    outcome = loop.step(agent)
    assert outcome is not None and outcome.status is Status.FINISHED
    assert "user_input" in event_types(agent)


def test_secrets_never_reach_the_run_record(settings, monkeypatch):
    secret = "sk-test-secret-abcdef123456"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    agent, _ = start(settings, [decision("note", text=f"key is {secret}"), decision("finish", reason=secret)])
    loop.run(agent)
    for f in agent.log.dir.iterdir():
        if f.is_file():  # files/ holds kept file versions: the files' own bytes, as the user had them
            assert secret not in f.read_text(), f.name
    assert "[REDACTED]" in (agent.log.dir / "events.jsonl").read_text()
    assert secret not in agent.history[0].output and "[REDACTED]" in agent.history[0].output  # not in prompts


def test_provider_failure_is_recorded_then_raised(settings):
    from forge.errors import LLMError

    agent, _ = start(settings, [decision("note", text="a"), LLMError("provider down after 5 attempts")])
    with pytest.raises(LLMError):
        loop.run(agent)
    state = read_state(agent.log.dir)
    assert state["status"] == "error" and state["steps"] == 1
    model = ScriptedModel([decision("finish", reason="back")])
    assert loop.run(Agent.resume(agent.log.run_id, settings, model, registry())).status is Status.FINISHED


def test_state_snapshot_is_current_whenever_the_run_waits(settings):
    """state.json is rewritten at most every STATE_INTERVAL_S while the run goes on (the event log is
    the record), but it is current whenever the run waits for a person, and at the end."""
    agent, _ = start(settings, [decision("note", text=str(i)) for i in range(6)] + [decision("finish", reason="ok")])
    seen: list[tuple[int, int]] = []

    def approve(proposal):
        seen.append((len(agent.history), read_state(agent.log.dir)["steps"]))
        return Verdict()

    for _ in range(3):  # fast continuous cycles: snapshots may lag behind the history
        asyncio.run(agent.step())
    assert read_state(agent.log.dir)["steps"] < len(agent.history)  # skipped: well inside the interval
    outcome = agent.run_sync(approve)
    assert outcome.status is Status.FINISHED
    assert seen and all(history == steps for history, steps in seen)
    assert read_state(agent.log.dir)["steps"] == len(agent.history) == 7
