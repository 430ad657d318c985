"""Render run events: rich text for people, or one JSON object per line for programs.

People also get, on stderr and only on a terminal, a live line while the model works ("Step 3:
thinking… 12 s, 140 tokens", fed by the model's progress signals), a line of figures after each step
(model and tool time, tokens, cost) and, at the end, the run's time and where its files are.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from autogpt_cli.action_view import render_action
from autogpt_cli.diff_view import render_changes
from forge.agent.agent import Proposal
from forge.security.untrusted_text import terminal_safe as safe

RESULT_PREVIEW_CHARS = 600


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def figures(usage: Any) -> str:
    """Tokens and cost of a usage (a forge.events UsageFields or forge.models Usage)."""
    tokens = usage.prompt_tokens + usage.completion_tokens
    return f"{tokens:,} tokens ({usage.prompt_tokens:,} in, {usage.completion_tokens:,} out) · ${usage.cost_usd:.4f}"


def shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    shown = str(path) if rel.startswith("..") else rel
    return shown + ("/" if path.is_dir() else "")


class Thinking:
    """The live line's text, rendered anew on every refresh so the seconds count up between tokens.
    Counters are bumped from whichever thread the model streams on."""

    def __init__(self, step: int):
        self.step = step
        self.started = time.monotonic()
        self.tokens = 0
        self.calls = 0
        self.note = ""

    def __rich__(self) -> Text:
        secs = time.monotonic() - self.started
        unit = "token" if self.tokens == 1 else "tokens"
        text = Text(f"Step {self.step}: thinking… {secs:.0f} s, {self.tokens} {unit}")
        if self.calls > 1:
            text.append(f" (call {self.calls})", style="dim")
        if self.note:
            text.append(f" · {self.note}", style="yellow")
        return text


class StepFigures:
    """What one step cost: the model's time and usage, the tool's time."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.model_s: float | None = None
        self.tool_started: float | None = None
        self.tool_s: float | None = None
        self.usage: Any = None

    def line(self, step: int) -> Text:
        parts = [f"step {step}"]
        if self.model_s is not None:
            parts.append(f"model {duration(self.model_s)}")
        if self.tool_s is not None:
            parts.append(f"tool {duration(self.tool_s)}")
        if self.usage is not None:
            parts.append(figures(self.usage))
        return Text("  " + " · ".join(parts), style="dim")


class RichDisplay:
    """Listener for RunLog events. Spinners only on a terminal: elsewhere they are noise.

    Every string that came from the model, a tool or a stored run goes through `safe()`: escape
    sequences in it are shown, never sent to the terminal."""

    def __init__(self, console: Console | None = None, *, live_console: Console | None = None):
        self.console = console or Console(highlight=False)
        # The live line goes to stderr, so stdout stays what it always was when piped.
        self.live_console = live_console or Console(stderr=True, highlight=False)
        self._status: Any = None
        self._thinking: Thinking | None = None
        self._step: tuple[int, StepFigures] | None = None
        self._shown: tuple[int, bool] | None = None  # (step, shortened) of the action last printed
        self._last_tool = "?"
        self.started = time.monotonic()
        self.usage: Any = None  # of this invocation, summed from the decisions

    # The model's progress (forge.events.progress signals), from any thread.
    def on_progress(self, signal: Any) -> None:
        from forge.events import progress as pg

        thinking = self._thinking
        if thinking is None:
            return
        match signal:
            case pg.CallStarted():
                thinking.calls += 1
                thinking.note = ""
            case pg.TokensReceived():
                thinking.tokens += signal.tokens
            case pg.CallRetried():
                thinking.note = f"attempt {signal.attempt} failed ({safe(signal.error)[:80]}); retrying"

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
        self._last_tool = proposal.decision.tool
        shortened = self.show_action(proposal.decision.tool, proposal.decision.tool_args)
        self._shown = (proposal.step, shortened)
        return shortened

    def show_full(self, proposal: Proposal) -> None:
        assert proposal.decision is not None
        self.show_action(proposal.decision.tool, proposal.decision.tool_args, full=True)

    def show_edited(self, proposal: Proposal, args: dict[str, Any]) -> None:
        assert proposal.decision is not None
        self.console.print(Text("Your edited action:", style="bold magenta"))
        self.show_action(proposal.decision.tool, args, full=True)

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self._thinking = None

    def _start_thinking(self, step: int) -> None:
        self._stop_spinner()
        self._thinking = Thinking(step)
        if self.live_console.is_terminal:
            self._status = self.live_console.status(self._thinking, spinner="dots", refresh_per_second=4)
            self._status.start()

    def _figures(self, step: int) -> StepFigures:
        if self._step is None or self._step[0] != step:
            self._step = (step, StepFigures())
        return self._step[1]

    def _add_usage(self, usage: Any) -> None:
        from forge.models.base import Usage

        self.usage = (self.usage or Usage()) + Usage(**usage.model_dump())

    def step_done(self, step: int) -> None:
        """The step's figures, once it has ended (a result, feedback or an invalid reply)."""
        if self._step is not None and self._step[0] == step:
            self.console.print(self._step[1].line(step))
            self._step = None

    def show_end(self, *, workspace: Path, run_dir: Path, run_id: str) -> None:
        """After the run: how long it took, what it cost, and where its files are."""
        if self._step is not None:
            self.step_done(self._step[0])
        line = Text(f"Time {duration(time.monotonic() - self.started)}", style="bold")
        if self.usage is not None:
            line.append(f" · this invocation: {figures(self.usage)}")
        self.console.print(line)
        self.console.print(Text.assemble(("Files: ", "bold"), shown_path(workspace)))
        self.console.print(Text.assemble(("Run:   ", "bold"), shown_path(run_dir), f"  (autogpt runs show {run_id})"))

    def __call__(self, event: Any) -> None:  # a forge.events agent event
        from forge.events import models as ev

        c = self.console
        if not isinstance(event, ev.StepStarted | ev.PromptBuilt | ev.MemoriesRecalled | ev.HistorySummary):
            self._stop_spinner()
        ended = self._step[0] if self._step is not None and self._step[1].tool_s is not None else None
        if ended is not None and not (isinstance(event, ev.FilesChanged | ev.Warning) and event.step == ended):
            self.step_done(ended)  # the figures close the step, after its file changes and warnings
        match event:
            case ev.RunStarted():
                c.print(Text.assemble(("AutoGPT", "bold cyan"), f" run {event.run_id} · model {safe(event.model)}"))
                c.print(Text.assemble(("Goal: ", "bold"), safe(event.goal)))
            case ev.Resumed():
                c.print(Text(f"Resuming at step {event.step} with model {safe(event.model)}", style="cyan"))
            case ev.StepStarted():
                self._figures(event.step)
                self._start_thinking(event.step)
            case ev.HistorySummary():
                self._add_usage(event.usage)
            case ev.DecisionMade():
                fig = self._figures(event.step)
                fig.model_s, fig.usage = time.monotonic() - fig.started, event.usage
                self._add_usage(event.usage)
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
                self._last_tool = d["tool"]
                self._shown = (event.step, self.show_action(d["tool"], d.get("tool_args", {})))
            case ev.InvalidDecision():
                fig = self._figures(event.step)
                fig.model_s, fig.usage = time.monotonic() - fig.started, event.usage
                self._add_usage(event.usage)
                c.print(Text(f"Invalid decision at step {event.step}: {safe(event.error)}", style="bold red"))
                self.step_done(event.step)
            case ev.UserFeedback():
                c.print(Text("Feedback recorded; the action was not run (it uses up no iteration).", style="magenta"))
                self.step_done(event.step)
            case ev.ActionEdited():
                c.print(Text("Running the action with the arguments you edited (recorded as yours).", style="magenta"))
            case ev.FollowUp():
                c.print(Text.assemble(("Follow-up: ", "bold"), safe(event.text)))
            case ev.ToolStarted():
                self._figures(event.step).tool_started = time.monotonic()
            case ev.ToolResult():
                output = safe(event.output)
                if len(output) > RESULT_PREVIEW_CHARS:
                    output = output[:RESULT_PREVIEW_CHARS] + f" ... [{len(output) - RESULT_PREVIEW_CHARS} more chars]"
                label, style = ("RESULT", "green") if event.ok else ("ERROR", "red")
                c.print(Text.assemble((f"{label}: ", style + " bold"), output))
                fig = self._figures(event.step)
                fig.tool_s = time.monotonic() - fig.tool_started if fig.tool_started is not None else 0.0
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

    def show_edited(self, proposal: Proposal, args: dict[str, Any]) -> None:
        assert proposal.decision is not None
        text, _ = render_action(proposal.decision.tool, args, full=True)
        Console(stderr=True, highlight=False).print(text)

    def __call__(self, event: Any) -> None:  # a forge.events event: the same JSON as its log line
        self.stream.write(event.model_dump_json(fallback=str) + "\n")
        self.stream.flush()
