"""The built-in `autogpt` agent: `BaseAgent` plus its default components (long-term memory, history
summaries, stuck detection), with its events in a JSONL run log under the workspace.

`autogpt run`, the workflow `agent` block and the Agent Protocol server all drive this class.

    agent = AutoGPTAgent.start("Write hello.txt", settings, model, tools)   # a new run
    agent = AutoGPTAgent.resume(run_id, settings, model, tools)             # continue a run
    agent = AutoGPTAgent.follow_up(run_id, "now also do X", settings, model, tools)  # a finished run goes on
    outcome = agent.run_sync()                                              # or: await agent.run()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from forge.agent.base import BaseAgent, Proposal, Verdict, prompt_budget
from forge.agent.components import Component, HistorySummaries, LongTermMemory, StuckDetector
from forge.agent.config import AgentConfig, AgentProfile, profile_from_options
from forge.agent.file_history import FileHistory
from forge.agent.staged import StagedDecisions
from forge.config import Settings
from forge.errors import RunError
from forge.memory.short_term import Summary
from forge.models.base import ChatModel
from forge.runs.log import RunLog
from forge.security.secrets import workspace_redactor
from forge.security.untrusted_text import clean_text
from forge.tools.base import ToolRegistry

if TYPE_CHECKING:
    from forge.events.progress import ProgressCallback
    from forge.memory.store import MemoryStore

__all__ = ["Agent", "AutoGPTAgent", "Proposal", "Verdict", "default_components", "prompt_budget"]


def default_components(
    options: Settings,
    *,
    memory: MemoryStore | None = None,
    summary_model: ChatModel | None = None,
    model: ChatModel | None = None,
) -> list[Component]:
    """The built-in agent's behaviours, configured from `options` (and `model`, whose size picks how
    decisions are made when `options.decision_strategy` is "auto")."""
    components: list[Component] = []
    strategy = options.decision_strategy
    if strategy == "staged" or (strategy == "auto" and getattr(model, "small", False)):
        components.append(StagedDecisions())
    components.append(StuckDetector(options.stuck_repeats))
    # Every file a step changes can be restored (`autogpt runs undo`); the data folder is never scanned.
    components.append(FileHistory(exclude=[options.workspace]))
    if memory is not None:
        components.append(
            LongTermMemory(memory, top_k=options.memory_top_k, prompt_tokens=options.memory_prompt_tokens)
        )
    if options.summary:
        # Old steps are compressed by the fast model when given, else by the agent's own model.
        components.append(HistorySummaries(summary_model))
    return components


class AutoGPTAgent(BaseAgent):
    """The default agent. Build it with `start`/`resume` from options (the CLI's Settings), or with
    the `BaseAgent` constructor and your own components."""

    settings: Settings

    @classmethod
    def create(
        cls,
        goal: str,
        settings: Settings,
        model: ChatModel,
        tools: ToolRegistry,
        sink: RunLog,
        *,
        ask_user: Callable[[str], str] | None = None,
        memory: MemoryStore | None = None,
        summary_model: ChatModel | None = None,
        components: Sequence[Component] | None = None,
        offload_tools: bool = False,
        profile: AgentProfile | None = None,
        workspace: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> AutoGPTAgent:
        agent = cls(
            goal,
            model=model,
            tools=tools,
            workspace=workspace or settings.agent_workspace(),
            config=AgentConfig.from_options(settings),
            profile=profile or profile_from_options(settings),
            components=default_components(settings, memory=memory, summary_model=summary_model, model=model)
            if components is None
            else components,
            sink=sink,
            options=settings,
            ask_user=ask_user,
            offload_tools=offload_tools,
            progress=progress,
        )
        agent.settings = settings
        agent.ctx.extras["memory"] = memory
        if settings.workdir is not None:  # recorded now: a resume finds the folder before any file changed
            for component in agent.components:
                if isinstance(component, FileHistory) and (store := component.store(agent)) is not None:
                    store.init()
        return agent

    @classmethod
    def start(cls, goal: str, settings: Settings, model: ChatModel, tools: ToolRegistry, **kw: Any) -> AutoGPTAgent:
        """A new run with its own event log under `settings.runs_dir()`."""
        redactor = workspace_redactor(settings.workspace)  # before anything is written
        log = RunLog.create(settings.runs_dir(), listener=kw.pop("listener", None), redactor=redactor)
        log.lock_driver()
        agent = cls.create(goal, settings, model, tools, log, **kw)
        agent.begin()
        return agent

    @classmethod
    def resume(cls, run_id: str, settings: Settings, model: ChatModel, tools: ToolRegistry, **kw: Any) -> AutoGPTAgent:
        """Rebuild an agent from its event log and continue after the last completed step, with
        the profile the run started with. A tool that started but never reported is not run
        again: the model is told it was interrupted and may have partially run."""
        redactor = workspace_redactor(settings.workspace)
        log = RunLog.open(settings.runs_dir(), run_id, listener=kw.pop("listener", None), redactor=redactor)
        log.lock_driver()  # before reading: a live driver could still be appending
        try:
            return cls._rebuilt(log, settings, model, tools, **kw)
        except BaseException:
            log.close()
            raise

    @classmethod
    def follow_up(
        cls, run_id: str, instruction: str, settings: Settings, model: ChatModel, tools: ToolRegistry, **kw: Any
    ) -> AutoGPTAgent:
        """A finished run goes on with a new instruction from the user: same run id and log, same
        workspace, its history kept. The instruction is recorded (`follow_up` event) and joins the goal.
        RunError, naming the fix, when the run has not finished (resume it instead) or is being driven."""
        from forge.agent.history import finished_for_good, replay
        from forge.events.models import FollowUp

        redactor = workspace_redactor(settings.workspace)
        log = RunLog.open(settings.runs_dir(), run_id, listener=kw.pop("listener", None), redactor=redactor)
        try:
            log.lock_driver()
            if not finished_for_good(list(log.events())):
                raise RunError(
                    f"run {run_id} has not finished, so there is nothing to follow up; "
                    f"continue it with `autogpt run --resume {run_id}`"
                )
            log.emit(FollowUp(step=len(replay(log.events()).history) + 1, text=clean_text(instruction)))
            return cls._rebuilt(log, settings, model, tools, **kw)
        except BaseException:
            log.close()
            raise

    @classmethod
    def _rebuilt(cls, log: RunLog, settings: Settings, model: ChatModel, tools: ToolRegistry, **kw: Any) -> Self:
        """The agent of a stored run, with the profile it started with, ready to go on."""
        from forge.agent.history import follow_ups, goal_with_follow_ups, replay_start

        events, first = replay_start(log)
        profile = profile_from_options(settings).model_copy(update=first.profile)
        kept = {k: v for k, v in first.profile.items() if k in Settings.model_fields}
        settings = settings.model_copy(update=kept)
        goal = goal_with_follow_ups(first.goal, follow_ups(events))
        agent = cls.create(goal, settings, model, tools, log, profile=profile, **kw)
        agent.resume_from(events)
        return agent  # type: ignore[return-value]

    @property
    def log(self) -> RunLog:
        assert isinstance(self.sink, RunLog)
        return self.sink

    @property
    def summaries(self) -> list[Summary]:
        return [s for c in self.components for s in c.history_summaries()]


Agent = AutoGPTAgent  # the name used before the base class existed
