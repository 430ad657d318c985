"""The base agent: one cycle = build prompt -> model decision -> validate -> (approve) -> execute -> record.

    agent = BaseAgent("Write hello.txt", model=ScriptedModel([...]), tools=registry, workspace="ws")
    outcome = await agent.run()            # or agent.run_sync() from synchronous code

This class owns the loop's policy (`step`, `run`): limits, invalid-decision streaks, approval,
feedback, finishing. Its overridable steps are `propose` (ask the model, validate), `execute`
(run the tool, record the result) and `reject` (the user said no: record the feedback); what
varies between agents goes in components (forge/agent/components.py). Errors caused by the model
(bad JSON, unknown tool, bad args, a tool refusing its input) are recorded and shown to the
model in the next prompt; errors in our own code are raised.

Everything that happens is written to the agent's event sink first (the JSONL run log, or memory),
and the agent's state can be rebuilt from those events alone (`BaseAgent.from_events`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from forge.agent.components import Component, Directives, StopRun, call_hook
from forge.agent.config import AgentConfig, AgentProfile
from forge.agent.decision import Decision, decision_schema, parse_decision, validate_decision
from forge.agent.history import StepRecord, replay, replay_start
from forge.agent.outcome import Outcome, Status
from forge.agent.prompt import PromptBuilder
from forge.errors import InvalidDecisionError, LLMError, ModelError
from forge.events.models import (
    ActionEdited,
    DecisionMade,
    Finished,
    InvalidDecision,
    PromptBuilt,
    Resumed,
    RunStarted,
    StepStarted,
    ToolResult,
    ToolStarted,
    UserFeedback,
    UserInput,
)
from forge.events.sinks import E, EventSink, MemorySink
from forge.models.base import ChatModel, LLMResponse, Usage, complete_with_progress
from forge.models.tokens import context_budget, count_text
from forge.security.untrusted_text import clean_text
from forge.tools.base import Tool, ToolContext, ToolRegistry

if TYPE_CHECKING:
    from forge.config import Settings
    from forge.events.progress import ProgressCallback

STATE_INTERVAL_S = 0.25  # state.json is rewritten at most this often while the status is unchanged
MAX_COMPRESSIONS_PER_CYCLE = 2  # bounds the extra LLM calls a cycle may spend on summaries


@dataclass
class Proposal:
    """A decision the model made this cycle (validated: `tool` set), or why it was invalid (`error`)."""

    step: int
    decision: Decision | None
    tool: Tool | None = None
    error: str | None = None
    recorded: dict[str, Any] | None = None  # the decision as history keeps it (secrets redacted)


@dataclass
class Verdict:
    """The user's answer to a proposed action: run it (with `args` when they edited the arguments),
    quit, or give feedback instead."""

    run: bool = True
    quit: bool = False
    feedback: str | None = None
    args: dict[str, Any] | None = None


Approver = Callable[[Proposal], "Verdict | Awaitable[Verdict]"]


def prompt_budget(model: ChatModel, tools: ToolRegistry, config: AgentConfig) -> int:
    """Tokens the prompt may use: the model's context window (or `config.max_context_tokens`) minus
    the reply reserve, minus the function specs when the provider receives them natively (they
    count against the same window)."""
    window, reserve = context_budget(model, config)
    budget = window - reserve
    if model.uses_native_tools(list(tools)):
        budget -= count_text(model, json.dumps([t.function_spec() for t in tools]))
    return budget


class BaseAgent:
    """An agent that owns its loop. Subclass it and override `propose`, `execute` or `reject`, or
    pass components; see the module docstring."""

    def __init__(
        self,
        goal: str,
        *,
        model: ChatModel,
        tools: ToolRegistry,
        workspace: Path | str,
        config: AgentConfig | None = None,
        profile: AgentProfile | None = None,
        components: Sequence[Component] = (),
        sink: EventSink | None = None,
        options: Settings | None = None,
        ask_user: Callable[[str], str] | None = None,
        offload_tools: bool = False,
        progress: ProgressCallback | None = None,
    ):
        from forge.config import Settings

        self.config = config or AgentConfig()
        self.profile = profile or AgentProfile()
        self.components = list(components)
        self.sink: EventSink = sink or MemorySink()
        self.model = model
        self.tools = tools
        for component in self.components:
            for t in component.tools():
                self.tools.register(t)
        # A key typed into the goal must reach neither the model nor the memory.
        self.goal = self.sink.redact(clean_text(goal))
        self.workspace = Path(workspace)
        # Sync tools run in a worker thread when True (a server stepping many tasks at once); inline
        # otherwise, so Ctrl-C interrupts them in the CLI.
        self.offload_tools = offload_tools
        # Told of each model call as it happens (prompt, tokens as they stream, retries, reply): a live display.
        self.progress = progress
        self.ctx = ToolContext(
            workspace=self.workspace,
            settings=options or Settings(),
            ask_user=ask_user,
            extras={"run_id": self.sink.run_id, "run_dir": getattr(self.sink, "dir", None), "events": self.sink},
        )
        self.prompt = PromptBuilder(
            self._profile_with_directives(),
            self.config,
            tools,
            self.goal,
            model=model,
            budget=prompt_budget(model, tools, self.config),
        )
        self.schema = decision_schema(tools)
        self.history: list[StepRecord] = []
        self.usage = Usage()  # whole run
        self.session_usage = Usage()  # this invocation: budgets count from here
        self.cycles = 0  # model calls in this invocation
        self.invalid_streak = 0
        self.notes: list[str] = []  # one-shot messages for the next prompt (warnings, user input)
        self.pending: Proposal | None = None
        self._pending_uncounted = False  # the pending decision was made by an earlier invocation
        self.finished_reason: str | None = None
        self.status = Status.RUNNING
        self.outcome: Outcome | None = None
        self.started = False
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._started = time.monotonic()
        self._state_written: tuple[float, Status] | None = None  # when state.json was last written, and as what
        self._state_dirty = False

    def _profile_with_directives(self) -> AgentProfile:
        extra = [d for c in self.components if (d := c.directives()) is not None]
        if not extra:
            return self.profile
        merged = Directives(
            list(self.profile.constraints), list(self.profile.resources), list(self.profile.best_practices)
        )
        for d in extra:
            merged.constraints += d.constraints
            merged.resources += d.resources
            merged.best_practices += d.best_practices
        return self.profile.model_copy(update=vars(merged))

    # Helpers for subclasses and components ---------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.sink.run_id

    def emit(self, event: E) -> E:
        return self.sink.emit(event)

    def redact(self, text: str) -> str:
        return self.sink.redact(text)

    def recorded(self, decision: Decision) -> dict[str, Any]:
        """The decision as history keeps it (and later prompts show it): secrets redacted, as in the log."""
        return self.sink.redactor.data(decision.model_dump())  # type: ignore[no-any-return]

    def add_usage(self, usage: Usage) -> None:
        self.usage += usage
        self.session_usage += usage

    def add_note(self, text: str) -> None:
        """Text for the model's next prompt (and the log): the user's input, a warning."""
        self.notes.append(text)
        self.emit(UserInput(step=len(self.history) + 1, text=text))

    # Starting and resuming --------------------------------------------------------------------
    def begin(self) -> None:
        """Write the run's first event (done by the first `step` if not called)."""
        if self.started:
            return
        self.started = True
        self.emit(
            RunStarted(run_id=self.run_id, goal=self.goal, model=self.model.name, profile=self.profile.model_dump())
        )
        self.save_state(force=True)

    @classmethod
    def from_events(cls, sink: EventSink, **kwargs: Any) -> Self:
        """Rebuild an agent from the events in `sink` and continue after the last completed step.
        The goal and profile come from the run's first event; other arguments as for the constructor.

        A tool that started but never reported is not run again: the model is told it was
        interrupted and may have partially run."""
        events, first = replay_start(sink)
        kwargs.setdefault("profile", AgentProfile().model_copy(update=first.profile))
        agent = cls(first.goal, sink=sink, **kwargs)
        agent.resume_from(events)
        return agent

    def resume_from(self, events: Sequence[Any]) -> None:
        """Continue the run these events describe (the first one is its RunStarted)."""
        self.created_at = datetime.fromtimestamp(events[0].ts, UTC).isoformat(timespec="seconds")
        self.started = True
        self.replay(events)
        self.emit(Resumed(step=len(self.history) + 1, model=self.model.name))

    def replay(self, events: Sequence[Any]) -> None:
        done = replay(events)
        self.history, self.usage = done.history, done.usage
        for component in self.components:
            component.on_resume(self, events)
        if done.interrupted is not None:
            self._record_result(
                done.interrupted,
                "interrupted before it reported a result; it may have partially run. "
                "Check its effects before repeating it.",
                ok=False,
                interrupted=True,
            )
        elif done.pending is not None and done.pending.decision is not None:
            decision = Decision.model_validate(done.pending.decision)
            tool = self.tools.get(decision.tool)
            self.pending = Proposal(done.pending.step, decision, tool, recorded=self.recorded(decision))
            self._pending_uncounted = True
        self.invalid_streak = 0
        for r in reversed(self.history):
            if r.decision is not None:
                break
            self.invalid_streak += 1

    # The loop ----------------------------------------------------------------------------------
    async def run(self, approve: Approver | None = None) -> Outcome:
        """Drive the agent until it ends. Ctrl-C ends the run as `user_quit`; a provider failure
        (after retries) is recorded as `error` and re-raised. Either way the run can be resumed."""
        try:
            while (outcome := await self.step(approve)) is None:
                pass
            return outcome
        except (KeyboardInterrupt, asyncio.CancelledError):
            return self.stop(Status.USER_QUIT, "interrupted with Ctrl-C")

    def run_sync(self, approve: Approver | None = None) -> Outcome:
        """`run` for synchronous code (the CLI). Ctrl-C while the loop waits (a model call in a
        worker thread) lands outside the coroutine: the run still ends as `user_quit`."""
        try:
            return asyncio.run(self.run(approve))
        except KeyboardInterrupt:
            return self.outcome or self.stop(Status.USER_QUIT, "interrupted with Ctrl-C")

    async def step(self, approve: Approver | None = None, user_input: str | None = None) -> Outcome | None:
        """Run one cycle. Returns the outcome when the run ended, else None.

        Without `approve` the action runs at once (continuous mode); `user_input` is handed to the
        model before it decides."""
        if self.outcome is not None:
            return self.outcome
        self.begin()
        try:
            if user_input:
                self.add_note(f"The user says: {user_input}")
            if limit := self.limit_reached():
                return self.stop(*limit)
            if self.pending is not None and self._pending_uncounted:
                # Decided before a resume: acting on it is one of this invocation's iterations.
                self.cycles += 1
                self._pending_uncounted = False
            proposal = self.pending or await self.propose()
            if (ended := await self.review(proposal)) is not None:
                return ended
            if proposal.decision is None:
                return None
            if approve:
                self.flush_state()  # a person may look at `runs list` while the prompt waits
            verdict = approve(proposal) if approve else Verdict()
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if verdict.quit:
                return self.stop(Status.USER_QUIT, "the user stopped the run")
            if verdict.feedback is not None:
                await self.reject(proposal, verdict.feedback)
                # Feedback is the user steering, not the agent working: it uses up no iteration.
                self.cycles = max(0, self.cycles - 1)
                return None
            if verdict.args is not None:
                self.edit(proposal, verdict.args)
            await self.execute(proposal)
            if self.finished_reason is not None:
                return self.stop(Status.FINISHED, self.finished_reason)
            return None
        except StopRun as e:
            return self.stop(e.status, e.reason)
        except LLMError as e:
            self.stop(Status.ERROR, str(e))
            raise

    async def review(self, proposal: Proposal) -> Outcome | None:
        """The policy on a fresh proposal: too many invalid decisions in a row, or a component
        vetoing the decision (`StopRun`), ends the run. Returns the outcome when it did."""
        if proposal.decision is None:
            if self.invalid_streak >= self.config.max_invalid_decisions:
                return self.stop(
                    Status.INVALID_DECISIONS,
                    f"{self.invalid_streak} invalid decisions in a row (last: {proposal.error}); "
                    "try a stronger model with --model",
                )
            return None
        try:
            for component in self.components:
                await call_hook(component.after_decision(self, proposal))
        except StopRun as e:
            return self.stop(e.status, e.reason)
        return None

    def limit_reached(self) -> tuple[Status, str] | None:
        c = self.config
        if self.cycles >= c.max_iterations:
            return Status.ITERATION_LIMIT, f"reached the limit of {c.max_iterations} iterations"
        if c.budget_usd is not None and self.session_usage.cost_usd >= c.budget_usd:
            return Status.BUDGET, f"spent ${self.session_usage.cost_usd:.4f} of the ${c.budget_usd:.4f} budget"
        if c.max_seconds is not None and time.monotonic() - self._started >= c.max_seconds:
            return Status.TIME_LIMIT, f"ran for the limit of {c.max_seconds:.0f} s"
        return None

    # Overridable steps -------------------------------------------------------------------------
    async def propose(self) -> Proposal:
        """Ask the model for the next decision and validate it (recorded either way)."""
        step = len(self.history) + 1
        self.emit(StepStarted(step=step))
        response = await self.decide(step)
        response.content = clean_text(response.content) if response.content else response.content
        self.cycles += 1
        self.notes = []
        self.add_usage(response.usage)
        usage = response.usage.to_dict()
        try:
            decision = parse_decision(response)
            tool = validate_decision(decision, self.tools)
        except InvalidDecisionError as e:
            self.invalid_streak += 1
            raw = self.redact(response.content or str(response.tool_calls))
            self.emit(InvalidDecision(step=step, error=str(e), raw=raw[:2000], usage=usage))  # type: ignore[arg-type]
            self._complete(StepRecord(step=step, raw=raw, error=str(e)))
            return Proposal(step, None, error=str(e))
        self.invalid_streak = 0
        self.emit(DecisionMade(step=step, decision=decision.model_dump(), usage=usage))  # type: ignore[arg-type]
        self.pending = Proposal(step, decision, tool, recorded=self.recorded(decision))
        return self.pending

    async def decide(self, step: int) -> LLMResponse:
        """This cycle's decision from the model: a component's own strategy (`decide` hook), else the
        one-shot prompt built by `build_messages` and answered by `complete`."""
        for component in self.components:
            response = await call_hook(component.decide(self, step))
            if response is not None:
                return response  # type: ignore[no-any-return]
        return await self.complete(await self.build_messages(step))

    async def complete(self, messages: list[dict[str, Any]]) -> LLMResponse:
        """One model call for a decision (reported to `self.progress` as it happens)."""
        return await complete_with_progress(
            self.model, messages, tools=list(self.tools), decision_schema=self.schema, progress=self.progress
        )

    async def build_messages(self, step: int) -> list[dict[str, Any]]:
        """This cycle's prompt, inside the context budget; components make room as the limit nears."""
        sections = [str(s) for c in self.components if (s := await call_hook(c.prompt_sections(self, step)))]
        extra = "\n".join(sections)
        messages = self._messages(step, extra)
        for _ in range(MAX_COMPRESSIONS_PER_CYCLE):
            stats = self.prompt.last_stats
            if stats is None or not stats.under_pressure:
                break
            changed = False
            for component in self.components:
                changed = bool(await call_hook(component.on_prompt_pressure(self, step, stats))) or changed
            if not changed:
                break
            messages = self._messages(step, extra)
        stats = self.prompt.last_stats
        if stats is not None:
            self.emit(
                PromptBuilt(
                    step=step,
                    tokens=stats.tokens,
                    budget=stats.budget,
                    full_steps=stats.full_steps,
                    old_lines=stats.old_lines,
                    omitted=stats.omitted,
                )
            )
        return messages

    def _messages(self, step: int, extra: str) -> list[dict[str, Any]]:
        summaries = [s for c in self.components for s in c.history_summaries()]
        return self.prompt.messages(self.history, step, self.notes, summaries=summaries, memories=extra)

    def edit(self, proposal: Proposal, args: dict[str, Any]) -> None:
        """The user changed the action's arguments before approving it: validate them against the tool
        (InvalidDecisionError says why not), record them as the user's, and run those instead."""
        assert proposal.decision is not None
        decision = proposal.decision.model_copy(update={"tool_args": dict(args)})
        proposal.tool = validate_decision(decision, self.tools)
        proposal.decision = decision
        stored = self.emit(ActionEdited(step=proposal.step, tool_args=decision.tool_args))
        recorded = proposal.recorded or self.recorded(proposal.decision)
        proposal.recorded = {**recorded, "tool_args": stored.tool_args}

    async def reject(self, proposal: Proposal, feedback: str) -> None:
        """The user answered with feedback instead of approval: record it, do not run the tool."""
        assert proposal.decision is not None
        self.emit(UserFeedback(step=proposal.step, text=feedback))
        self.pending = None
        recorded = proposal.recorded or self.recorded(proposal.decision)
        self._complete(StepRecord(step=proposal.step, decision=recorded, feedback=feedback))

    async def execute(self, proposal: Proposal) -> StepRecord:
        """Run the proposed tool and record its result (a tool's failure is the model's to handle)."""
        assert proposal.decision is not None and proposal.tool is not None
        decision, tool = proposal.decision, proposal.tool
        # The arguments are in this step's decision event already: large ones are not logged twice.
        self.emit(ToolStarted(step=proposal.step, tool=tool.name))
        self.ctx.extras["step"] = proposal.step
        for component in self.components:
            await call_hook(component.before_execute(self, proposal))
        try:
            output, ok = str(await self.call_tool(tool, decision.tool_args)), True
        except ModelError as e:
            output, ok = str(e), False
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
            raise
        except Exception as e:  # a tool's own failure is the model's to work around, not a crash
            output, ok = f"{type(e).__name__}: {e}", False
            for component in self.components:
                replacement = await call_hook(component.on_tool_error(self, proposal, e))
                if replacement is not None:
                    output = str(replacement)
        if tool.ends_run and ok:
            self.finished_reason = output
        self.pending = None
        rec = StepRecord(step=proposal.step, decision=proposal.recorded or self.recorded(decision))
        self._record_result(rec, output, ok=ok)
        for component in self.components:
            await call_hook(component.after_execute(self, rec))
        return rec

    async def call_tool(self, tool: Tool, args: dict[str, Any]) -> Any:
        result = await asyncio.to_thread(tool, self.ctx, args) if self.offload_tools else tool(self.ctx, args)
        return await result if inspect.isawaitable(result) else result

    # Recording ---------------------------------------------------------------------------------
    def _record_result(self, rec: StepRecord, output: str, *, ok: bool, interrupted: bool = False) -> None:
        tool = (rec.decision or {}).get("tool")
        # A tool may have read a key or a non-UTF-8 name, or quoted a host path in an error: the
        # next prompt gets none of them.
        output = self.redact(self._hide_host_paths(clean_text(output)))
        self.emit(ToolResult(step=rec.step, tool=tool, ok=ok, output=output, interrupted=interrupted))
        rec.output, rec.ok = output, ok
        self._complete(rec)

    def _hide_host_paths(self, text: str) -> str:
        """Host paths of the workspace (in OS error messages) as the model knows them: relative."""
        ws = str(self.workspace.resolve())
        if ws not in text:
            return text
        return text.replace(ws + os.sep, "").replace(ws, ".")

    def _complete(self, rec: StepRecord) -> None:
        self.history.append(rec)
        self.save_state()

    # Ending ------------------------------------------------------------------------------------
    def stop(self, status: Status, reason: str) -> Outcome:
        """End the run: record why, with a summary line, and close the sink."""
        self.status = status
        tools_used = Counter(r.decision["tool"] for r in self.history if r.decision is not None and r.feedback is None)
        used = ", ".join(f"{name} x{n}" for name, n in tools_used.most_common()) or "none"
        tokens = self.usage.prompt_tokens + self.usage.completion_tokens
        summary = (
            f"{status.value}: {reason.rstrip().rstrip('.')}. {len(self.history)} steps; tools used: {used}; "
            f"{tokens} tokens, ${self.usage.cost_usd:.4f}."
        )
        self.emit(
            Finished(
                status=status.value,
                reason=reason,
                summary=summary,
                elapsed_s=round(time.monotonic() - self._started, 3),
                workspace=str(self.workspace),
            )
        )
        self.save_state(force=True)
        self.sink.close()
        self.outcome = Outcome(self.run_id, status, reason, summary, len(self.history), self.usage)
        return self.outcome

    def save_state(self, *, force: bool = False) -> None:
        """Write the state snapshot (listings read it; the event log is the record). While the status is
        unchanged it is rewritten at most every STATE_INTERVAL_S: an atomic replace costs more than the rest
        of a scripted cycle. `flush_state` writes a skipped snapshot when the run pauses."""
        now = time.monotonic()
        last = self._state_written
        if not force and last is not None and last[1] == self.status and now - last[0] < STATE_INTERVAL_S:
            self._state_dirty = True
            return
        self._state_written, self._state_dirty = (now, self.status), False
        self.sink.write_state(
            {
                "run_id": self.run_id,
                "goal": self.goal,
                "agent": self.profile.agent_name,
                "model": self.model.name,
                "status": self.status.value,
                "steps": len(self.history),
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cost_usd": self.usage.cost_usd,
                "created_at": self.created_at,
                "pid": os.getpid(),
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )

    def flush_state(self) -> None:
        """Write the snapshot `save_state` skipped, if any: call it when the run waits (for a person, a client)."""
        if self._state_dirty:
            self.save_state(force=True)
