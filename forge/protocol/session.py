"""The one place the Agent Protocol server touches the agent.

A `TaskSession` drives one task's agent one step at a time, with Agent Protocol semantics (the way
AutoGPT's own server behaves): a step first settles the action proposed by the previous step (input
`y` or empty approves and runs it, any other text is feedback and it is not run), then asks the agent
for its next proposal. The first step only proposes. `is_last` when the agent finishes or a limit,
stuck detection or repeated errors end its run.

The agent is synchronous today, so each step runs in a worker thread. Agents are built by an
`AgentBuilder`: `(goal, settings, run_id) -> Agent`, a new run when `run_id` is None, else the run
resumed from its event log (after a server restart).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from forge.config import Settings
from forge.errors import ConfigError, LLMError

if TYPE_CHECKING:
    from forge.agent.agent import Agent
    from forge.agent.outcome import Outcome

log = logging.getLogger(__name__)

AgentBuilder = Callable[[str, Settings, "str | None"], "Agent"]
APPROVALS = ("", "y", "yes")
MAX_STEP_ERRORS = 3  # consecutive failed steps (provider down, script exhausted) end the run


class StepOutcome(BaseModel):
    output: str
    additional_output: dict[str, Any] = Field(default_factory=dict)
    is_last: bool = False
    name: str | None = None


class StepTimeoutError(Exception):
    """The step ran past its time limit; its thread keeps the task busy until it returns."""


class SessionBusyError(Exception):
    """An earlier step that timed out is still running in its thread."""


def _call(decision: dict[str, Any] | None) -> str:
    if not decision:
        return ""
    return f"{decision.get('tool')}({json.dumps(decision.get('tool_args', {}), ensure_ascii=False)})"


class TaskSession:
    def __init__(self, agent: Agent, executor: Executor | None = None):
        self.agent = agent
        self.executor = executor  # None: asyncio's default pool (a handful of threads)
        self.errors = 0
        self._thread: asyncio.Future[StepOutcome] | None = None
        self._flush: asyncio.Future[None] | None = None

    @property
    def run_id(self) -> str:
        return self.agent.run_id

    @property
    def busy(self) -> bool:
        """A step that outran its time limit is still running in its thread."""
        return self._thread is not None and not self._thread.done()

    async def step(self, input: str | None, timeout: float | None = None) -> StepOutcome:
        """One step in a worker thread. Callers serialise steps of one session (one lock per task)."""
        if self.busy:
            raise SessionBusyError("the previous step of this task is still running; try again later")
        loop = asyncio.get_running_loop()
        if self._flush is not None:
            await self._flush
        self._thread = loop.run_in_executor(self.executor, self._step, input)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._thread), timeout)
        except TimeoutError:
            raise StepTimeoutError(f"the step did not finish within {timeout:g} s") from None
        # The task now waits for its client: write the state snapshot the step may have skipped, off the
        # response's path.
        self._flush = loop.run_in_executor(self.executor, self.agent.flush_state)
        return outcome

    def close(self) -> None:
        if not self.busy:  # a pending state flush needs no open file of the sink
            self.agent.sink.close()

    # The step, in a worker thread -----------------------------------------------------------
    def _step(self, input: str | None) -> StepOutcome:
        # The agent is async (forge.agent.base); each worker thread keeps one loop across steps, so
        # what a model caches per loop (HTTP clients) stays usable.
        from forge.models.sync import run_sync

        return run_sync(self._astep(input))

    async def _astep(self, input: str | None) -> StepOutcome:
        from forge.agent.outcome import Status

        agent = self.agent
        usage_before = agent.usage.to_dict()
        text = (input or "").strip()
        executed: dict[str, Any] | None = None
        outcome: Outcome | None = None
        try:
            pending = agent.pending
            if pending is not None and pending.decision is not None:
                if text.lower() in APPROVALS:
                    rec = await agent.execute(pending)
                    executed = {"tool": pending.decision.tool, "args": rec.decision and rec.decision.get("tool_args"),
                                "ok": rec.ok, "result": rec.output}
                    if agent.finished_reason is not None:
                        outcome = agent.stop(Status.FINISHED, agent.finished_reason)
                else:
                    await agent.reject(pending, text)
            elif text and text.lower() not in APPROVALS:
                agent.add_note(f"The user says: {text}")
            proposal = None
            if outcome is None and (limit := agent.limit_reached()):
                outcome = agent.stop(*limit)
            if outcome is None:
                proposal = await agent.propose()
                # the agent's own policy: invalid-decision streaks, components' vetoes (stuck detection)
                outcome = await agent.review(proposal)
            self.errors = 0
        except Exception as e:  # the task stays usable: the client may send another step
            if not isinstance(e, LLMError):
                log.exception("step of run %s failed", self.run_id)
            self.errors += 1
            error = f"{type(e).__name__}: {e}" if not isinstance(e, LLMError) else str(e)
            if self.errors >= MAX_STEP_ERRORS and agent.status == Status.RUNNING:
                outcome = agent.stop(Status.ERROR, error)
            return self._outcome(usage_before, executed, None, outcome, error=error)
        return self._outcome(usage_before, executed, proposal, outcome)

    def _outcome(
        self, usage_before: dict[str, Any], executed: dict[str, Any] | None, proposal: Any,
        outcome: Outcome | None, *, error: str | None = None,
    ) -> StepOutcome:
        agent = self.agent
        after = agent.usage.to_dict()
        parts: list[str] = []
        extra: dict[str, Any] = {}
        if executed is not None:
            parts.append(f"Result of {executed['tool']} ({'ok' if executed['ok'] else 'error'}): {executed['result']}")
            extra["last_action"] = executed
        decision = proposal.decision if proposal is not None else None
        if decision is not None:
            recorded = agent.sink.redactor.data(decision.model_dump())
            thoughts = recorded.get("thoughts", {})
            parts.append(str(thoughts.get("text", "")).strip())
            for label in ("reasoning", "plan", "criticism"):
                if str(thoughts.get(label, "")).strip():
                    parts.append(f"{label.capitalize()}: {str(thoughts[label]).strip()}")
            if outcome is None:
                parts.append(f"Proposed action: {_call(recorded)}")
                extra["use_tool"] = {"name": recorded["tool"], "arguments": recorded.get("tool_args", {})}
            extra["thoughts"] = thoughts
        elif proposal is not None and proposal.error:
            parts.append(f"The model's reply was not a valid decision: {proposal.error}")
            extra["invalid_decision"] = proposal.error
        if error is not None:
            parts.append(f"Error: {error}")
            extra["error"] = error
        if outcome is not None:
            parts.append(f"Run ended ({outcome.status.value}): {outcome.reason}")
            extra["status"] = outcome.status.value
        extra["tokens"] = {
            "prompt": after["prompt_tokens"] - usage_before["prompt_tokens"],
            "completion": after["completion_tokens"] - usage_before["completion_tokens"],
        }
        extra["cost_usd"] = round(after["cost_usd"] - usage_before["cost_usd"], 8)
        extra["task_cumulative_cost_usd"] = round(after["cost_usd"], 8)
        extra["run_id"] = self.run_id
        extra["model"] = agent.model.name  # a benchmark report names the model it scored
        name = decision.tool if decision is not None and outcome is None else (
            executed["tool"] if executed is not None else None
        )
        redactor = agent.sink.redactor
        return StepOutcome(
            output=redactor.text("\n\n".join(p for p in parts if p)),
            additional_output=redactor.data(extra),
            is_last=outcome is not None,
            name=name,
        )


class SessionFactory:
    """Builds each task's agent in its own folder: the task is the agent (`agent_name` task-<id>),
    so its file tools are confined to `<workspace>/agents/task-<id>/workspace`; runs go to
    `<workspace>/runs/` like any run."""

    def __init__(self, settings: Settings, builder: AgentBuilder | None = None, executor: Executor | None = None):
        self.settings = settings
        self.builder = builder or BuiltinAgentBuilder()
        self.executor = executor

    def task_settings(self, task_id: str) -> Settings:
        # Tasks are independent: no long-term memory shared between them (history summaries still work).
        return self.settings.model_copy(update={"agent_name": f"task-{task_id}", "memory": False})

    async def create(self, task_id: str, goal: str) -> TaskSession:
        settings = self.task_settings(task_id)
        agent = await asyncio.get_running_loop().run_in_executor(self.executor, self.builder, goal, settings, None)
        return TaskSession(agent, self.executor)

    async def reopen(self, task_id: str, run_id: str) -> TaskSession:
        settings = self.task_settings(task_id)
        agent = await asyncio.get_running_loop().run_in_executor(self.executor, self.builder, "", settings, run_id)
        return TaskSession(agent, self.executor)


class BuiltinAgentBuilder:
    """The built-in agent with the registered tools. One model for all tasks (the embedded model is
    loaded once, litellm models hold no state), except scripted models: each task replays its script."""

    def __init__(self, agent_class: type | None = None):
        self.agent_class = agent_class
        self._model: Any = None

    def model(self, settings: Settings) -> Any:
        from forge.models import LLMOptions, get_model

        if settings.model.startswith("scripted/"):
            return get_model(settings.model, LLMOptions.from_settings(settings))
        if self._model is None:
            self._model = get_model(settings.model, LLMOptions.from_settings(settings))
        return self._model

    def __call__(self, goal: str, settings: Settings, run_id: str | None) -> Agent:
        from forge.agent.agent import Agent
        from forge.tools.base import ToolRegistry

        cls: Any = self.agent_class or Agent
        tools = ToolRegistry([t for t in ToolRegistry.from_entry_points() if t.name not in ("remember", "recall")])
        model = self.model(settings)
        if run_id is None:
            return cls.start(goal, settings, model, tools)  # type: ignore[no-any-return]
        return cls.resume(run_id, settings, model, tools)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._model is not None:
            self._model.close()


def load_agent_builder(spec: str) -> AgentBuilder:
    """`MODULE:ATTR` -> an AgentBuilder. ATTR is a class with `start`/`resume` like the built-in
    `forge.agent.agent.Agent` (a subclass of it, usually), or a callable `(goal, settings, run_id) -> agent`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--agent {spec!r} is not MODULE:ATTR; e.g. --agent my_agent.agent:MyAgent")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"--agent: cannot import {module_name!r} ({e}); install it or fix the module path") from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)  # type: ignore[assignment]
        if obj is None:
            raise ConfigError(f"--agent: {module_name!r} has no attribute {attr!r}; check the name after ':'")
    if isinstance(obj, type) and hasattr(obj, "start") and hasattr(obj, "resume"):
        return BuiltinAgentBuilder(obj)
    if not callable(obj):
        raise ConfigError(f"--agent {spec!r} is neither an agent class nor a callable; point it at one")
    return obj  # type: ignore[return-value]
