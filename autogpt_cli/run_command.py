"""`autogpt run`: wire settings, model, tools, display and approval around forge's loop."""

from __future__ import annotations

import re
import signal
import sys
from typing import Any

from forge.config import Settings
from forge.errors import ConfigError, WorkspaceError
from forge.security.permissions import private_dir


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s or "agent"


def check_workspace(settings: Settings) -> None:
    """Fail early, with the fix, when the data folder cannot be written."""
    for folder in (settings.runs_dir(), settings.agent_workspace()):
        try:
            private_dir(folder, root=settings.workspace)
            probe = folder / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise WorkspaceError(
                f"workspace {settings.workspace} is not writable ({e.strerror}); choose another with --workspace DIR"
            ) from None


def stored_start(settings: Settings, run_id: str) -> Any:  # -> forge.events.RunStarted
    """The run_started event of a stored run (its model and agent profile)."""
    from forge.events.models import RunStarted
    from forge.runs.log import RunLog

    first = next(RunLog.open(settings.runs_dir(), run_id).events(), None)
    return first if isinstance(first, RunStarted) else RunStarted()


def open_memory(settings: Settings, *, quiet: bool) -> Any:
    """The agent's long-term memory store (None with --no-memory). Errors are ConfigErrors."""
    if not settings.memory:
        return None
    from forge.memory.store import MemoryStore

    if quiet or not sys.stderr.isatty():
        return MemoryStore.open(settings, agent_option="--ai-name")  # errors name run's own option
    from rich.console import Console

    with Console(stderr=True).status("Opening long-term memory..."):
        return MemoryStore.open(settings, agent_option="--ai-name")


def run_agent(
    goal: str | None,
    settings: Settings,
    *,
    continuous: bool,
    resume: str | None,
    json_output: bool,
    debug: bool,
    model_given: bool,
) -> int:
    from autogpt_cli.approval import InteractiveApprover, read_line
    from autogpt_cli.display import JsonDisplay, RichDisplay
    from forge.agent.agent import AutoGPTAgent
    from forge.plugins import plugins_with
    from forge.security.secrets import setup_debug_logging, workspace_redactor
    from forge.tools.base import ToolRegistry

    if debug:
        setup_debug_logging(workspace_redactor(settings.workspace))
    if resume is None and not (goal and goal.strip()):
        raise ConfigError('the goal is empty; pass it in quotes: autogpt run "what you want done"')
    check_workspace(settings)
    if resume:
        start = stored_start(settings, resume)
        if not model_given:
            settings.model = start.model or settings.model
        # The run's agent owns the memory store to reopen.
        settings.agent_name = start.profile.get("agent_name", settings.agent_name)

    from forge.models import LLMOptions, get_model

    options = LLMOptions.from_settings(settings)
    model = get_model(settings.model, options)
    summary_model = get_model(settings.fast_model, options) if settings.fast_model and settings.summary else None
    tools = ToolRegistry.from_plugins(plugins_with(settings.tools_dir))
    if not settings.memory:  # a small model should not spend steps on tools that can only fail
        tools = ToolRegistry([t for t in tools if t.name not in ("remember", "recall")])
    memory = open_memory(settings, quiet=json_output)
    display: Any = JsonDisplay() if json_output else RichDisplay()
    approver = InteractiveApprover(continuous=continuous, presenter=display)
    def ask(question: str) -> str:
        try:
            return read_line(f"The agent asks: {question}\n> ")
        except EOFError:  # input closed: the tool tells the model nobody answered
            return ""

    # ask_user needs someone at the keyboard: always when approving by hand, else only on a terminal.
    ask_user = ask if (not continuous or sys.stdin.isatty()) else None

    kwargs = dict(listener=display, ask_user=ask_user, memory=memory, summary_model=summary_model)
    if resume:
        agent = AutoGPTAgent.resume(resume, settings, model, tools, **kwargs)
    else:
        assert goal is not None
        agent = AutoGPTAgent.start(goal.strip(), settings, model, tools, **kwargs)

    def on_sigint(signum: int, frame: Any) -> None:
        if not approver.interrupt():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        outcome = agent.run_sync(approver)
    finally:
        signal.signal(signal.SIGINT, previous)
        model.close()
        if memory is not None:
            memory.close()
    if not json_output and outcome.status.value != "finished":
        print(f"Resume with: autogpt run --resume {outcome.run_id}", file=sys.stderr)
    return outcome.exit_code
