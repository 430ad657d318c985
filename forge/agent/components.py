"""Components: what varies between agents, plugged into `BaseAgent` (forge/agent/base.py).

A component overrides only the hooks it needs; the agent calls every component's hook in order.

    directives()                   extra constraints / resources / best practices for the system prompt
    tools()                        extra tools the agent offers the model
    prompt_sections(agent, step)   text added to this cycle's prompt (recalled memories, ...)
    history_summaries()            summary lines shown in place of old steps
    on_prompt_pressure(agent, step, stats)  the prompt is near its budget: make room (return True if it did)
    after_decision(agent, proposal)         a valid decision arrived; raise StopRun to end the run
    before_execute(agent, proposal)         the approved action is about to run
    after_execute(agent, record)   a tool ran (ok or not)
    on_tool_error(agent, proposal, error)   a tool raised: return text to show the model instead
    on_resume(agent, events)       rebuild the component's state from the run's events
    decide(agent, step)            make this cycle's decision itself (return an LLMResponse holding the
                                   decision JSON) instead of the one-shot prompt; the first component
                                   that returns one wins (`StagedDecisions` for small models)

The default agent's behaviours are components: `LongTermMemory`, `HistorySummaries`,
`StuckDetector`. Drop one by leaving it out, swap one by passing your own.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forge.agent.decision import Decision
from forge.agent.outcome import Status
from forge.events.models import HistorySummary, MemoriesRecalled
from forge.events.models import Warning as WarningEvent
from forge.memory.short_term import Summarizer, Summary, next_compression
from forge.models.base import Usage
from forge.models.tokens import count_text, truncate_to_tokens

if TYPE_CHECKING:
    from forge.agent.base import BaseAgent, Proposal
    from forge.agent.history import StepRecord
    from forge.agent.prompt import PromptStats
    from forge.memory.store import MemoryStore
    from forge.models.base import ChatModel
    from forge.tools.base import Tool

MAX_COMPRESSIONS_PER_CYCLE = 2  # bounds the extra LLM calls a cycle may spend on summaries
MEMORY_RESULT_CHARS = 600


class StopRun(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a component hook to end the run with `status` (e.g. the agent is stuck)."""

    def __init__(self, status: Status, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Directives:
    constraints: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    best_practices: list[str] = field(default_factory=list)


class Component:
    """Base class with no-op hooks. Hooks may be sync or async (`async def`)."""

    def directives(self) -> Directives | None:
        return None

    def tools(self) -> Iterable[Tool]:
        return ()

    def prompt_sections(self, agent: BaseAgent, step: int) -> Any:
        return None

    def history_summaries(self) -> Sequence[Summary]:
        return ()

    def on_prompt_pressure(self, agent: BaseAgent, step: int, stats: PromptStats) -> Any:
        return False

    def after_decision(self, agent: BaseAgent, proposal: Proposal) -> Any:
        return None

    def before_execute(self, agent: BaseAgent, proposal: Proposal) -> Any:
        return None

    def after_execute(self, agent: BaseAgent, record: StepRecord) -> Any:
        return None

    def on_tool_error(self, agent: BaseAgent, proposal: Proposal, error: Exception) -> Any:
        return None

    def on_resume(self, agent: BaseAgent, events: Sequence[Any]) -> None:
        return None

    def decide(self, agent: BaseAgent, step: int) -> Any:
        return None


async def call_hook(result: Any) -> Any:
    """A hook's result, awaited when the hook was async."""
    return await result if inspect.isawaitable(result) else result


class StuckDetector(Component):
    """Warns the model after `repeats` identical calls in a row, and ends the run (status `stuck`)
    when it proposes the same call again."""

    def __init__(self, repeats: int = 3):
        self.repeats = repeats

    def _repeat_count(self, agent: BaseAgent, key: str | None = None) -> int:
        count = 0
        for rec in reversed(agent.history):
            if rec.decision is None or rec.feedback is not None:
                continue
            rec_key = Decision.model_validate(rec.decision).call_key()
            if key is None:
                key = rec_key
            if rec_key != key:
                break
            count += 1
        return count

    def after_decision(self, agent: BaseAgent, proposal: Proposal) -> None:
        assert proposal.decision is not None
        recorded = proposal.recorded or agent.recorded(proposal.decision)
        key = Decision.model_validate(recorded).call_key()  # as history records it
        if self._repeat_count(agent, key) >= self.repeats:
            raise StopRun(Status.STUCK, f"the model kept repeating {proposal.decision.tool} with the same arguments")

    def after_execute(self, agent: BaseAgent, record: StepRecord) -> None:
        n = self._repeat_count(agent)
        if n >= self.repeats:
            last = agent.history[-1].decision or {}
            msg = (
                f"Warning: you called {last.get('tool')} with the same arguments {n} times and the "
                "result will not change. Do something different or finish; repeating it stops the run."
            )
            agent.notes.append(msg)
            agent.emit(WarningEvent(step=agent.history[-1].step, message=msg))


class LongTermMemory(Component):
    """Recalls memories relevant to the goal and plan into each prompt; stores every finished cycle."""

    def __init__(self, store: MemoryStore, *, top_k: int = 5, prompt_tokens: int = 400):
        self.store, self.top_k, self.prompt_tokens = store, top_k, prompt_tokens

    def prompt_sections(self, agent: BaseAgent, step: int) -> str:
        last = next((r.decision for r in reversed(agent.history) if r.decision is not None), None)
        thoughts = (last or {}).get("thoughts", {})
        query = " ".join([agent.goal, str(thoughts.get("plan", "")), str(thoughts.get("text", ""))]).strip()
        # Steps still shown in full are already in the prompt: do not recall them again.
        shown = agent.config.history_steps
        shown_from = len(agent.history) - shown
        hits = [
            h
            for h in self.store.search(query[:2000], top_k=self.top_k + shown)
            if not (h.metadata.get("run_id") == agent.run_id and int(h.metadata.get("step") or 0) > shown_from)
        ][: self.top_k]
        if not hits:
            return ""
        lines = ["Relevant memories (long-term, may be from earlier runs):"]
        for h in hits:
            where = (
                f"run {h.metadata.get('run_id')}, step {h.metadata.get('step')}"
                if h.metadata.get("step")
                else (h.metadata.get("kind", "note"))
            )
            lines.append(f"- [{where}] {agent.redact(h.text[:400])}")
        agent.emit(MemoriesRecalled(step=step, hits=[{"id": h.id, "score": round(h.score, 4)} for h in hits]))
        return truncate_to_tokens(agent.model, "\n".join(lines), self.prompt_tokens, "\n[...]")

    def after_execute(self, agent: BaseAgent, record: StepRecord) -> None:
        if record.decision is None:
            return
        thought = str(record.decision.get("thoughts", {}).get("text", ""))[:300]
        args = json.dumps(record.decision.get("tool_args", {}), ensure_ascii=False)[:300]
        result = (record.output or "")[:MEMORY_RESULT_CHARS]
        text = f"Goal: {agent.goal[:200]}\nThought: {thought}\nAction: {record.decision.get('tool')}({args})\n"
        text += f"Result ({'ok' if record.ok else 'error'}): {result}"
        text = agent.redact(text)  # the model may have echoed a secret into its thoughts or args
        self.store.add(
            text, kind="step", run_id=agent.run_id, step=record.step, tool=str(record.decision.get("tool")),
            ok=record.ok,
        )


class HistorySummaries(Component):
    """Compresses old steps into summary lines (with `model`, else the agent's own) when the prompt
    nears its budget; the summaries are shown in place of those steps."""

    def __init__(self, model: ChatModel | None = None):
        self.model = model
        self.summaries: list[Summary] = []
        self._summarizer: Summarizer | None = None

    def history_summaries(self) -> Sequence[Summary]:
        return self.summaries

    def summarizer(self, agent: BaseAgent) -> Summarizer:
        if self._summarizer is None:
            self._summarizer = Summarizer(self.model or agent.model, agent.progress)
        return self._summarizer

    async def on_prompt_pressure(self, agent: BaseAgent, step: int, stats: PromptStats) -> bool:
        keep = agent.config.history_steps
        old = agent.history[:-keep] if keep else agent.history
        summary_tokens = sum(count_text(agent.model, s.line()) + 1 for s in self.summaries)
        moved = await call_hook(
            next_compression(old, self.summaries, self.summarizer(agent), merge=summary_tokens > stats.old_cap / 2)
        )
        if moved is None:
            return False
        self.summaries, usage = moved
        agent.add_usage(usage)
        agent.emit(HistorySummary(step=step, summaries=[s.to_event() for s in self.summaries], usage=usage.to_dict()))
        return True

    def on_resume(self, agent: BaseAgent, events: Sequence[Any]) -> None:
        for ev in events:
            if isinstance(ev, HistorySummary):
                self.summaries = [Summary(**s) for s in ev.summaries]
                agent.usage += Usage(**ev.usage.model_dump())  # summaries are paid for too
