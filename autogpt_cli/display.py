"""Render run events: rich text for people, or one JSON object per line for programs."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from autogpt_cli.action_view import render_action
from autogpt_cli.diff_view import render_changes
from forge.agent.agent import Proposal
from forge.security.untrusted_text import terminal_safe as safe

RESULT_PREVIEW_CHARS = 600


class RichDisplay:
    """Listener for RunLog events. Spinners only on a terminal: elsewhere they are noise.

    Every string that came from the model, a tool or a stored run goes through `safe()`: escape
    sequences in it are shown, never sent to the terminal."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self._status: Any = None
        self._shown: tuple[int, bool] | None = None  # (step, shortened) of the action last printed

    def show_action(self, tool: str, args: dict[str, Any], *, full: bool = False) -> bool:
        """Print a proposed action; True when a long value was shortened (`v` shows it whole)."""
        self._stop_spinner()
        text, shortened = render_action(tool, args, full=full)
        self.console.print(text)
        return shortened

    # The approver's view of the action (see autogpt_cli.approval.ActionPresenter).
    def present(self, proposal: Proposal) -> bool:
        """Make sure the action about to be approved is on screen (a resumed run has not shown
        it yet); True when a value was shortened."""
        assert proposal.decision is not None
        if self._shown is not None and self._shown[0] == proposal.step:
            return self._shown[1]
        self.console.print(Text(f"\nPending action of step {proposal.step}:", style="bold"))
        shortened = self.show_action(proposal.decision.tool, proposal.decision.tool_args)
        self._shown = (proposal.step, shortened)
        return shortened

    def show_full(self, proposal: Proposal) -> None:
        assert proposal.decision is not None
        self.show_action(proposal.decision.tool, proposal.decision.tool_args, full=True)

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, event: Any) -> None:  # a forge.events agent event
        from forge.events import models as ev

        c = self.console
        if not isinstance(event, ev.StepStarted):
            self._stop_spinner()
        match event:
            case ev.RunStarted():
                c.print(Text.assemble(("AutoGPT", "bold cyan"), f" run {event.run_id} · model {safe(event.model)}"))
                c.print(Text.assemble(("Goal: ", "bold"), safe(event.goal)))
            case ev.Resumed():
                c.print(Text(f"Resuming at step {event.step} with model {safe(event.model)}", style="cyan"))
            case ev.StepStarted():
                if c.is_terminal:
                    self._status = c.status(f"Step {event.step}: thinking...", spinner="dots")
                    self._status.start()
            case ev.DecisionMade():
                d = event.decision
                t = d.get("thoughts", {})
                out = Text()
                out.append(f"\n── Step {event.step} ", style="bold")
                for label, key, style in (
                    ("THOUGHTS", "text", "yellow"),
                    ("REASONING", "reasoning", "yellow"),
                    ("PLAN", "plan", "yellow"),
                    ("CRITICISM", "criticism", "yellow"),
                ):
                    if value := safe(t.get(key, "")).strip():
                        out.append(f"\n{label}: ", style=style + " bold")
                        # multi-line plans read as an indented list under their label
                        out.append("\n  " + value.replace("\n", "\n  ") if "\n" in value else value)
                c.print(out)
                self._shown = (event.step, self.show_action(d["tool"], d.get("tool_args", {})))
            case ev.InvalidDecision():
                c.print(Text(f"Invalid decision at step {event.step}: {safe(event.error)}", style="bold red"))
            case ev.UserFeedback():
                c.print(Text("Feedback recorded; the action was not run.", style="magenta"))
            case ev.ToolResult():
                output = safe(event.output)
                if len(output) > RESULT_PREVIEW_CHARS:
                    output = output[:RESULT_PREVIEW_CHARS] + f" ... [{len(output) - RESULT_PREVIEW_CHARS} more chars]"
                label, style = ("RESULT", "green") if event.ok else ("ERROR", "red")
                c.print(Text.assemble((f"{label}: ", style + " bold"), output))
            case ev.FilesChanged() if event.changes:
                c.print(render_changes(event))
            case ev.Warning():
                c.print(Text(safe(event.message), style="bold yellow"))
            case ev.Finished():
                style = "bold green" if event.status == "finished" else "bold yellow"
                c.print(Text(f"\n{safe(event.summary)}", style=style))


class JsonDisplay:
    """One JSON event per line on stdout, flushed so a reader sees each as it happens."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stdout

    def present(self, proposal: Proposal, *, full: bool = False) -> bool:
        """Before an approval prompt (on stderr: stdout stays JSON), the same view as on a terminal."""
        assert proposal.decision is not None
        text, shortened = render_action(proposal.decision.tool, proposal.decision.tool_args, full=full)
        Console(stderr=True, highlight=False).print(text)
        return shortened

    def show_full(self, proposal: Proposal) -> None:
        self.present(proposal, full=True)

    def __call__(self, event: Any) -> None:  # a forge.events event: the same JSON as its log line
        self.stream.write(event.model_dump_json(fallback=str) + "\n")
        self.stream.flush()
