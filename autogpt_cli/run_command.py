"""`autogpt run`: wire settings, model, tools, display and approval around forge's loop."""

from __future__ import annotations

import re
import signal
import sys
from typing import Any

from forge.config import Settings
from forge.errors import ConfigError, WorkspaceError


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s or "agent"


def check_workspace(settings: Settings) -> None:
    """Fail early, with the fix, when the data folder cannot be written."""
    for folder in (settings.runs_dir(), settings.agent_workspace()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise WorkspaceError(
                f"workspace {settings.workspace} is not writable ({e.strerror}); choose another with --workspace DIR"
            ) from None


def stored_model(settings: Settings, run_id: str) -> str | None:
    from forge.runs.log import RunLog

    first = next(RunLog.open(settings.runs_dir(), run_id).events(), None)
    return first.get("model") if first else None


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
    from forge.agent import loop
    from forge.agent.agent import Agent
    from forge.llm.env import prepare_offline_env
    from forge.security.secrets import setup_debug_logging
    from forge.tools.base import ToolRegistry

    if debug:
        setup_debug_logging()
    if resume is None and not (goal and goal.strip()):
        raise ConfigError('the goal is empty; pass it in quotes: autogpt run "what you want done"')
    check_workspace(settings)
    if resume and not model_given:
        settings.model = stored_model(settings, resume) or settings.model

    prepare_offline_env()
    from forge.llm.registry import get_model

    model = get_model(settings.model, settings)
    tools = ToolRegistry.from_entry_points()
    display: Any = JsonDisplay() if json_output else RichDisplay()
    approver = InteractiveApprover(continuous=continuous)
    def ask(question: str) -> str:
        try:
            return read_line(f"The agent asks: {question}\n> ")
        except EOFError:  # input closed: the tool tells the model nobody answered
            return ""

    # ask_user needs someone at the keyboard: always when approving by hand, else only on a terminal.
    ask_user = ask if (not continuous or sys.stdin.isatty()) else None

    kwargs = dict(listener=display, ask_user=ask_user)
    if resume:
        agent = Agent.resume(resume, settings, model, tools, **kwargs)
    else:
        assert goal is not None
        agent = Agent.start(goal.strip(), settings, model, tools, **kwargs)

    def on_sigint(signum: int, frame: Any) -> None:
        if not approver.interrupt():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        outcome = loop.run(agent, approver)
    finally:
        signal.signal(signal.SIGINT, previous)
        model.close()
    if not json_output and outcome.status.value != "finished":
        print(f"Resume with: autogpt run --resume {outcome.run_id}", file=sys.stderr)
    return outcome.exit_code
