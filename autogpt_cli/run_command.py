"""`autogpt run`: wire settings, model, tools, display and approval around forge's loop."""

from __future__ import annotations

import os
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
    if settings.workdir is not None and not os.access(settings.workdir, os.W_OK | os.X_OK):
        raise WorkspaceError(f"--workdir {settings.workdir} is not writable; choose a folder you can write to")
    # A --workdir is the user's folder: used as it is, never made private.
    own = () if settings.workdir is not None else (settings.agent_workspace(),)
    for folder in (settings.runs_dir(), *own):
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


def resume_workdir(settings: Settings, run_id: str | None) -> None:
    """A run started with --workdir goes on in that folder when resumed without it."""
    from forge.runs.versions import VersionStore

    if run_id is None:
        return
    store = VersionStore.open(settings.runs_dir() / run_id)
    if settings.workdir is None and store is not None and store.root != settings.agent_workspace().resolve():
        settings.workdir = store.root


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
    follow_up: str | None = None,
) -> int:
    from autogpt_cli.approval import InteractiveApprover, editor_command, read_line
    from autogpt_cli.display import JsonDisplay, RichDisplay
    from forge.agent.agent import AutoGPTAgent
    from forge.plugins import plugins_with
    from forge.security.secrets import setup_debug_logging, workspace_redactor
    from forge.tools.base import ToolRegistry

    if debug:
        setup_debug_logging(workspace_redactor(settings.workspace))
    if resume and follow_up:
        raise ConfigError("--resume and --continue do not go together; --resume goes on with an unfinished run, "
                          "--continue gives a finished one a new instruction")
    if follow_up and not (goal and goal.strip()):
        raise ConfigError(f'--continue needs the new instruction: autogpt run --continue {follow_up} "now also do X"')
    if resume is None and not (goal and goal.strip()):
        raise ConfigError('the goal is empty; pass it in quotes: autogpt run "what you want done"')
    check_workspace(settings)
    stored = resume or follow_up
    if stored:
        start = stored_start(settings, stored)
        if not model_given:
            settings.model = start.model or settings.model
        # The run's agent owns the memory store to reopen.
        settings.agent_name = start.profile.get("agent_name", settings.agent_name)
        resume_workdir(settings, stored)  # --resume and --continue go on in the folder the run used

    from forge.models import LLMOptions, get_model

    options = LLMOptions.from_settings(settings)
    model = get_model(settings.model, options)
    summary_model = get_model(settings.fast_model, options) if settings.fast_model and settings.summary else None
    tools = ToolRegistry.from_plugins(plugins_with(settings.tools_dir))
    if not settings.memory:  # a small model should not spend steps on tools that can only fail
        tools = ToolRegistry([t for t in tools if t.name not in ("remember", "recall")])
    memory = open_memory(settings, quiet=json_output)
    display: Any = JsonDisplay() if json_output else RichDisplay()
    approver = InteractiveApprover(continuous=continuous, presenter=display, editor=editor_command())
    # Only a live line on a terminal needs the tokens as they come (they make a backend stream its reply).
    watchers: list[Any] = [display.on_progress] if not json_output and display.live_console.is_terminal else []
    if debug:
        from rich.console import Console

        from autogpt_cli.model_debug import ModelCallLog

        # Printed through the live line's console, so the two share stderr without tearing.
        console = Console(stderr=True, highlight=False) if json_output else display.live_console
        watchers.append(ModelCallLog(console, workspace_redactor(settings.workspace)))

    def progress(signal: Any) -> None:
        for watch in watchers:
            watch(signal)

    def ask(question: str) -> str:
        try:
            return read_line(f"The agent asks: {question}\n> ")
        except EOFError:  # input closed: the tool tells the model nobody answered
            return ""

    # ask_user needs someone at the keyboard: always when approving by hand, else only on a terminal.
    ask_user = ask if (not continuous or sys.stdin.isatty()) else None

    kwargs = dict(listener=display, ask_user=ask_user, memory=memory, summary_model=summary_model,
                  progress=progress if watchers else None)
    if resume:
        agent = AutoGPTAgent.resume(resume, settings, model, tools, **kwargs)
    elif follow_up:
        assert goal is not None
        agent = AutoGPTAgent.follow_up(follow_up, goal.strip(), settings, model, tools, **kwargs)
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
    if not json_output:
        display.show_end(workspace=agent.workspace, run_dir=agent.log.dir, run_id=outcome.run_id)
        if outcome.status.value != "finished":
            print(f"Resume with: autogpt run --resume {outcome.run_id}", file=sys.stderr)
        else:
            print(f'Follow up with: autogpt run --continue {outcome.run_id} "what to do next"', file=sys.stderr)
    return outcome.exit_code
