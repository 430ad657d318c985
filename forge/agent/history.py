"""Step history: what happened in each cycle, rebuilt from the run's event log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from forge.errors import RunError
from forge.events.models import (
    ActionEdited,
    DecisionMade,
    Finished,
    FollowUp,
    InvalidDecision,
    RunStarted,
    StepStarted,
    ToolResult,
    ToolStarted,
    UserFeedback,
)
from forge.models.base import Usage


@dataclass
class StepRecord:
    """What happened in one cycle, rebuilt from the event log on resume."""

    step: int
    decision: dict[str, Any] | None = None
    raw: str | None = None  # the model's reply when it was not a valid decision
    error: str | None = None  # why the decision was invalid
    feedback: str | None = None  # user text instead of approval
    output: str | None = None  # tool observation
    ok: bool = True
    _line: str | None = field(default=None, repr=False)

    def one_line(self) -> str:
        if self._line is None:
            if self.decision is None:
                text = f"invalid reply: {self.error}"
            else:
                args = json.dumps(self.decision.get("tool_args", {}), ensure_ascii=False)
                call = f"{self.decision.get('tool')}({args[:80]})"
                if self.feedback is not None:
                    text = f"{call} not run; user said: {self.feedback[:80]}"
                else:
                    result = (self.output or "").replace("\n", " ")[:100]
                    text = f"{call} -> {'ok' if self.ok else 'error'}: {result}"
            self._line = f"{self.step}. {text}"
        return self._line


@dataclass
class Replay:
    history: list[StepRecord]
    usage: Usage
    pending: StepRecord | None = None  # decided, never approved or run
    interrupted: StepRecord | None = None  # tool started, never reported


def replay(events: Iterable[Any]) -> Replay:
    """Fold a run's typed events into completed steps, plus the step that was cut off, if any."""
    out = Replay(history=[], usage=Usage())
    rec: StepRecord | None = None
    started_tool = False
    for ev in events:
        if isinstance(ev, StepStarted):
            rec, started_tool = StepRecord(step=ev.step), False
        elif rec is None:
            continue
        elif isinstance(ev, DecisionMade):
            out.usage += Usage(**ev.usage.model_dump())
            rec.decision = ev.decision
        elif isinstance(ev, InvalidDecision):
            out.usage += Usage(**ev.usage.model_dump())
            rec.raw, rec.error = ev.raw, ev.error
            out.history.append(rec)
            rec = None
        elif isinstance(ev, ActionEdited) and rec.decision is not None:
            rec.decision = {**rec.decision, "tool_args": ev.tool_args}
        elif isinstance(ev, UserFeedback):
            rec.feedback = ev.text
            out.history.append(rec)
            rec = None
        elif isinstance(ev, ToolStarted):
            started_tool = True
        elif isinstance(ev, ToolResult):
            rec.output, rec.ok = ev.output, ev.ok
            out.history.append(rec)
            rec = None
    if rec is not None and rec.decision is not None:
        if started_tool:
            out.interrupted = rec
        else:
            out.pending = rec
    return out


def replay_start(sink: Any) -> tuple[list[Any], RunStarted]:
    """A resumable run's events and its first event; RunError when it is damaged or finished."""
    events = list(sink.events())
    if not events or not isinstance(events[0], RunStarted):
        raise RunError(f"run {sink.run_id} has no run_started event; its log is damaged, start a new run")
    if finished_for_good(events):
        raise RunError(
            f"run {sink.run_id} already finished; give it a follow-up with "
            f'`autogpt run --continue {sink.run_id} "what to do next"`, or start a new run'
        )
    return events, events[0]


def finished_for_good(events: Sequence[Any]) -> bool:
    """The run called `finish` and no follow-up instruction came after."""
    for ev in reversed(events):
        if isinstance(ev, FollowUp):
            return False
        if isinstance(ev, Finished) and ev.status == "finished":
            return True
    return False


def follow_ups(events: Iterable[Any]) -> list[str]:
    """The instructions `--continue` added to the run, in order."""
    return [ev.text for ev in events if isinstance(ev, FollowUp)]


def goal_with_follow_ups(goal: str, texts: Sequence[str]) -> str:
    """The goal the agent works toward once the user has given follow-up instructions."""
    if not texts:
        return goal
    added = "\n".join(f"- {t}" for t in texts)
    return f"{goal}\n\nFollow-up instructions from the user once that was done (the last one is the task now):\n{added}"
