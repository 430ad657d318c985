"""The agent: one cycle = build prompt -> LLM decision -> validate -> (approve) -> execute -> record.

Errors caused by the model (bad JSON, unknown tool, bad args, a tool refusing its input) are
recorded and shown to the model in the next prompt; errors in our own code are raised.
Everything that happens is appended to the run's event log first, and the agent's state can be
rebuilt from that log alone (`Agent.resume`).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from forge.agent.decision import Decision, decision_schema, parse_decision, validate_decision
from forge.agent.history import StepRecord, replay
from forge.agent.outcome import Outcome, Status
from forge.agent.prompt import PromptBuilder
from forge.config import Settings
from forge.errors import InvalidDecisionError, ModelError, RunError
from forge.memory.short_term import Summarizer, Summary, next_compression, summaries_from_events
from forge.models.base import ChatModel, Usage
from forge.models.sync import run_sync
from forge.models.tokens import context_budget, count_text, truncate_to_tokens
from forge.runs.log import RunLog
from forge.security.secrets import workspace_redactor
from forge.security.untrusted_text import clean_text
from forge.tools.base import Tool, ToolContext, ToolRegistry

if TYPE_CHECKING:
    from forge.memory.store import MemoryStore

# Run settings stored with the run so --resume continues with the same agent profile.
PROFILE_FIELDS = ("ai_name", "ai_role", "agent_name", "constraints", "resources", "best_practices")
MAX_COMPRESSIONS_PER_CYCLE = 2  # bounds the extra LLM calls a cycle may spend on summaries
MEMORY_RESULT_CHARS = 600


def prompt_budget(model: ChatModel, tools: ToolRegistry, settings: Settings) -> int:
    """Tokens the prompt may use: the context window minus the reply reserve, minus the function
    specs when the provider receives them natively (they count against the same window)."""
    window, reserve = context_budget(model, settings)
    budget = window - reserve
    if model.uses_native_tools(list(tools)):
        budget -= count_text(model, json.dumps([t.function_spec() for t in tools]))
    return budget


@dataclass
class Proposal:
    step: int
    decision: Decision | None
    tool: Tool | None = None
    error: str | None = None


class Agent:
    def __init__(
        self,
        goal: str,
        settings: Settings,
        model: ChatModel,
        tools: ToolRegistry,
        log: RunLog,
        *,
        ask_user: Callable[[str], str] | None = None,
        memory: MemoryStore | None = None,
        summary_model: ChatModel | None = None,
    ):
        self.goal = goal
        self.settings = settings
        self.model = model
        self.tools = tools
        self.log = log
        self.prompt = PromptBuilder(
            settings, tools, goal, model=model, budget=prompt_budget(model, tools, settings)
        )
        self.schema = decision_schema(tools)
        self.memory = memory
        # Old steps are compressed by the fast model when given, else by the agent's own model.
        self.summarizer = Summarizer(summary_model or model) if settings.summary else None
        self.summaries: list[Summary] = []
        self.ctx = ToolContext(
            workspace=settings.agent_workspace(),
            settings=settings,
            ask_user=ask_user,
            extras={"run_id": log.run_id, "run_dir": log.dir, "memory": memory},
        )
        self.history: list[StepRecord] = []
        self.usage = Usage()  # whole run
        self.session_usage = Usage()  # this invocation: budgets count from here
        self.cycles = 0  # LLM calls in this invocation
        self.invalid_streak = 0
        self.notes: list[str] = []  # one-shot messages for the next prompt (warnings, user input)
        self.pending: Proposal | None = None
        self.finished_reason: str | None = None
        self.status = Status.RUNNING
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._started = time.monotonic()

    # Construction ---------------------------------------------------------------------------
    @classmethod
    def start(cls, goal: str, settings: Settings, model: ChatModel, tools: ToolRegistry, **kw: Any) -> Agent:
        redactor = workspace_redactor(settings.workspace)  # before anything is written
        log = RunLog.create(settings.runs_dir(), listener=kw.pop("listener", None), redactor=redactor)
        log.lock_driver()
        # A key typed into the goal must reach neither the model nor the memory.
        agent = cls(redactor.text(clean_text(goal)), settings, model, tools, log, **kw)
        profile = {f: getattr(settings, f) for f in PROFILE_FIELDS}
        log.append("run_started", run_id=log.run_id, goal=goal, model=model.name, profile=profile)
        agent.save_state()
        return agent

    @classmethod
    def resume(cls, run_id: str, settings: Settings, model: ChatModel, tools: ToolRegistry, **kw: Any) -> Agent:
        """Rebuild an agent from its event log and continue after the last completed step.

        A tool that started but never reported is not run again: the model is told it was
        interrupted and may have partially run."""
        redactor = workspace_redactor(settings.workspace)
        log = RunLog.open(settings.runs_dir(), run_id, listener=kw.pop("listener", None), redactor=redactor)
        log.lock_driver()  # before reading: a live driver could still be appending
        events = list(log.events())
        if not events or events[0]["type"] != "run_started":
            raise RunError(f"run {run_id} has no run_started event; its log is damaged, start a new run")
        start = events[0]
        for f, v in start.get("profile", {}).items():
            setattr(settings, f, v)
        agent = cls(start["goal"], settings, model, tools, log, **kw)
        agent.created_at = datetime.fromtimestamp(start["ts"], UTC).isoformat(timespec="seconds")
        agent._replay(events)
        state = log.state()
        if state.get("status") == Status.FINISHED:
            raise RunError(f"run {run_id} already finished; start a new run with `autogpt run GOAL`")
        log.append("resumed", step=len(agent.history) + 1, model=model.name)
        return agent

    def _replay(self, events: list[dict[str, Any]]) -> None:
        done = replay(events)
        self.history, self.usage = done.history, done.usage
        self.summaries = summaries_from_events(events)
        for ev in events:  # summaries are paid for too
            if ev["type"] == "history_summary":
                self.usage += Usage(**ev.get("usage", {}))
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
            self.pending = Proposal(done.pending.step, decision, self.tools.get(decision.tool))
        self.invalid_streak = 0
        for r in reversed(self.history):
            if r.decision is not None:
                break
            self.invalid_streak += 1

    # The cycle ------------------------------------------------------------------------------
    def limit_reached(self) -> tuple[Status, str] | None:
        s = self.settings
        if self.cycles >= s.max_iterations:
            return Status.ITERATION_LIMIT, f"reached the limit of {s.max_iterations} iterations"
        if s.budget_usd is not None and self.session_usage.cost_usd >= s.budget_usd:
            return Status.BUDGET, f"spent ${self.session_usage.cost_usd:.4f} of the ${s.budget_usd:.4f} budget"
        if s.max_seconds is not None and time.monotonic() - self._started >= s.max_seconds:
            return Status.TIME_LIMIT, f"ran for the limit of {s.max_seconds:.0f} s"
        return None

    def propose(self) -> Proposal:
        """Ask the model for the next decision and validate it (recorded either way)."""
        step = len(self.history) + 1
        self.log.append("step_started", step=step)
        messages = self.build_messages(step)
        response = run_sync(self.model.complete(messages, tools=list(self.tools), decision_schema=self.schema))
        response.content = clean_text(response.content) if response.content else response.content
        self.cycles += 1
        self.notes = []
        self.usage += response.usage
        self.session_usage += response.usage
        usage = response.usage.to_dict()
        try:
            decision = parse_decision(response)
            tool = validate_decision(decision, self.tools)
        except InvalidDecisionError as e:
            self.invalid_streak += 1
            raw = self.log.redact(response.content or str(response.tool_calls))
            self.log.append("invalid_decision", step=step, error=str(e), raw=raw[:2000], usage=usage)
            self._complete(StepRecord(step=step, raw=raw, error=str(e)))
            return Proposal(step, None, error=str(e))
        self.invalid_streak = 0
        self.log.append("decision", step=step, decision=decision.model_dump(), usage=usage)
        self.pending = Proposal(step, decision, tool)
        return self.pending

    def build_messages(self, step: int) -> list[dict[str, Any]]:
        """This cycle's prompt, inside the context budget; compresses old steps as the limit nears."""
        memories = self._recall()
        messages = self.prompt.messages(self.history, step, self.notes, summaries=self.summaries, memories=memories)
        for _ in range(MAX_COMPRESSIONS_PER_CYCLE):
            stats = self.prompt.last_stats
            if self.summarizer is None or stats is None or not stats.under_pressure:
                break
            keep = self.settings.history_steps
            old = self.history[:-keep] if keep else self.history
            summary_tokens = sum(count_text(self.model, s.line()) + 1 for s in self.summaries)
            moved = run_sync(
                next_compression(old, self.summaries, self.summarizer, merge=summary_tokens > stats.old_cap / 2)
            )
            if moved is None:
                break
            self.summaries, usage = moved
            self.usage += usage
            self.session_usage += usage
            self.log.append(
                "history_summary", step=step, summaries=[s.to_event() for s in self.summaries], usage=usage.to_dict()
            )
            messages = self.prompt.messages(self.history, step, self.notes, summaries=self.summaries, memories=memories)
        stats = self.prompt.last_stats
        if stats is not None:
            self.log.append(
                "prompt",
                step=step,
                tokens=stats.tokens,
                budget=stats.budget,
                full_steps=stats.full_steps,
                old_lines=stats.old_lines,
                omitted=stats.omitted,
            )
        return messages

    # Long-term memory -----------------------------------------------------------------------
    def _recall(self) -> str:
        """Memories relevant to the goal and the current plan, as a prompt section within budget."""
        if self.memory is None:
            return ""
        last = next((r.decision for r in reversed(self.history) if r.decision is not None), None)
        thoughts = (last or {}).get("thoughts", {})
        query = " ".join([self.goal, str(thoughts.get("plan", "")), str(thoughts.get("text", ""))]).strip()
        # Steps still shown in full are already in the prompt: do not recall them again.
        shown_from = len(self.history) - self.settings.history_steps
        hits = [
            h
            for h in self.memory.search(query[:2000], top_k=self.settings.memory_top_k + self.settings.history_steps)
            if not (h.metadata.get("run_id") == self.log.run_id and int(h.metadata.get("step") or 0) > shown_from)
        ][: self.settings.memory_top_k]
        if not hits:
            return ""
        lines = ["Relevant memories (long-term, may be from earlier runs):"]
        for h in hits:
            where = (
                f"run {h.metadata.get('run_id')}, step {h.metadata.get('step')}"
                if h.metadata.get("step")
                else (h.metadata.get("kind", "note"))
            )
            lines.append(f"- [{where}] {self.log.redact(h.text[:400])}")
        self.log.append(
            "memories_recalled",
            step=len(self.history) + 1,
            hits=[{"id": h.id, "score": round(h.score, 4)} for h in hits],
        )
        return truncate_to_tokens(self.model, "\n".join(lines), self.settings.memory_prompt_tokens, "\n[...]")

    def _remember(self, rec: StepRecord) -> None:
        """Store a finished cycle's thought, action and result in long-term memory."""
        if self.memory is None or rec.decision is None:
            return
        thought = str(rec.decision.get("thoughts", {}).get("text", ""))[:300]
        args = json.dumps(rec.decision.get("tool_args", {}), ensure_ascii=False)[:300]
        result = (rec.output or "")[:MEMORY_RESULT_CHARS]
        text = f"Goal: {self.goal[:200]}\nThought: {thought}\nAction: {rec.decision.get('tool')}({args})\n"
        text += f"Result ({'ok' if rec.ok else 'error'}): {result}"
        text = self.log.redact(text)  # the model may have echoed a secret into its thoughts or args
        self.memory.add(
            text, kind="step", run_id=self.log.run_id, step=rec.step, tool=str(rec.decision.get("tool")), ok=rec.ok
        )

    def reject(self, proposal: Proposal, feedback: str) -> None:
        """The user answered with feedback instead of approval: record it, do not run the tool."""
        assert proposal.decision is not None
        self.log.append("user_feedback", step=proposal.step, text=feedback)
        self.pending = None
        self._complete(StepRecord(step=proposal.step, decision=self._recorded(proposal.decision), feedback=feedback))

    def execute(self, proposal: Proposal) -> StepRecord:
        assert proposal.decision is not None and proposal.tool is not None
        decision, tool = proposal.decision, proposal.tool
        # The arguments are in this step's decision event already: large ones are not logged twice.
        self.log.append("tool_started", step=proposal.step, tool=tool.name)
        self.ctx.extras["step"] = proposal.step
        try:
            output, ok = str(tool(self.ctx, decision.tool_args)), True
        except ModelError as e:
            output, ok = str(e), False
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # a tool's own failure is the model's to work around, not a crash
            output, ok = f"{type(e).__name__}: {e}", False
        if tool.ends_run and ok:
            self.finished_reason = output
        self.pending = None
        rec = StepRecord(step=proposal.step, decision=self._recorded(decision))
        self._record_result(rec, output, ok=ok)
        self._remember(rec)
        self._warn_if_repeating()
        return rec

    def _record_result(self, rec: StepRecord, output: str, *, ok: bool, **extra: Any) -> None:
        tool = (rec.decision or {}).get("tool")
        # A tool may have read a key or a non-UTF-8 name, or quoted a host path in an error: the
        # next prompt gets none of them.
        output = self.log.redact(self._hide_host_paths(clean_text(output)))
        self.log.append("tool_result", step=rec.step, tool=tool, ok=ok, output=output, **extra)
        rec.output, rec.ok = output, ok
        self._complete(rec)

    def _recorded(self, decision: Decision) -> dict[str, Any]:
        """The decision as history keeps it (and later prompts show it): secrets redacted, as in the log."""
        return self.log.redactor.data(decision.model_dump())  # type: ignore[no-any-return]

    def _hide_host_paths(self, text: str) -> str:
        """Host paths of the workspace (in OS error messages) as the model knows them: relative."""
        ws = str(self.settings.agent_workspace().resolve())
        if ws not in text:
            return text
        return text.replace(ws + os.sep, "").replace(ws, ".")

    def _complete(self, rec: StepRecord) -> None:
        self.history.append(rec)
        self.save_state()

    # Stuck detection ------------------------------------------------------------------------
    def _repeat_count(self, key: str | None = None) -> int:
        """How many executed steps at the end of history made the same call (as `key`)."""
        count = 0
        for rec in reversed(self.history):
            if rec.decision is None or rec.feedback is not None:
                continue
            rec_key = Decision.model_validate(rec.decision).call_key()
            if key is None:
                key = rec_key
            if rec_key != key:
                break
            count += 1
        return count

    def _warn_if_repeating(self) -> None:
        n = self._repeat_count()
        if n >= self.settings.stuck_repeats:
            last = self.history[-1].decision or {}
            msg = (
                f"Warning: you called {last.get('tool')} with the same arguments {n} times and the "
                "result will not change. Do something different or finish; repeating it stops the run."
            )
            self.notes.append(msg)
            self.log.append("warning", step=self.history[-1].step, message=msg)

    def is_stuck(self, decision: Decision) -> bool:
        key = Decision.model_validate(self._recorded(decision)).call_key()  # as history records it
        return self._repeat_count(key) >= self.settings.stuck_repeats

    # Ending ---------------------------------------------------------------------------------
    def add_note(self, text: str) -> None:
        self.notes.append(text)
        self.log.append("user_input", step=len(self.history) + 1, text=text)

    def stop(self, status: Status, reason: str) -> Outcome:
        self.status = status
        tools_used = Counter(r.decision["tool"] for r in self.history if r.decision is not None and r.feedback is None)
        used = ", ".join(f"{name} x{n}" for name, n in tools_used.most_common()) or "none"
        tokens = self.usage.prompt_tokens + self.usage.completion_tokens
        summary = (
            f"{status.value}: {reason}. {len(self.history)} steps; tools used: {used}; "
            f"{tokens} tokens, ${self.usage.cost_usd:.4f}."
        )
        self.log.append("finished", status=status.value, reason=reason, summary=summary)
        self.save_state()
        self.log.close()
        return Outcome(self.log.run_id, status, reason, summary, len(self.history), self.usage)

    def save_state(self) -> None:
        self.log.write_state(
            {
                "run_id": self.log.run_id,
                "goal": self.goal,
                "agent": self.settings.agent_name,
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
