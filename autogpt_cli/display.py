"""Render run events: rich text for people, or one JSON object per line for programs."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

RESULT_PREVIEW_CHARS = 600


def format_call(tool: str, args: dict[str, Any], limit: int = 300) -> str:
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    if len(shown) > limit:
        shown = shown[:limit] + "..."
    return f"{tool}({shown})"


class RichDisplay:
    """Listener for RunLog events. Spinners only on a terminal: elsewhere they are noise."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self._status: Any = None

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        c = self.console
        if kind != "step_started":
            self._stop_spinner()
        if kind == "run_started":
            c.print(Text.assemble(("AutoGPT", "bold cyan"), f" run {event['run_id']} · model {event['model']}"))
            c.print(Text.assemble(("Goal: ", "bold"), event["goal"]))
        elif kind == "resumed":
            c.print(Text(f"Resuming at step {event['step']} with model {event['model']}", style="cyan"))
        elif kind == "step_started":
            if c.is_terminal:
                self._status = c.status(f"Step {event['step']}: thinking...", spinner="dots")
                self._status.start()
        elif kind == "decision":
            d = event["decision"]
            t = d.get("thoughts", {})
            out = Text()
            out.append(f"\n── Step {event['step']} ", style="bold")
            for label, key, style in (
                ("THOUGHTS", "text", "yellow"),
                ("REASONING", "reasoning", "yellow"),
                ("PLAN", "plan", "yellow"),
                ("CRITICISM", "criticism", "yellow"),
            ):
                if value := t.get(key, "").strip():
                    out.append(f"\n{label}: ", style=style + " bold")
                    # multi-line plans read as an indented list under their label
                    out.append("\n  " + value.replace("\n", "\n  ") if "\n" in value else value)
            out.append("\nNEXT ACTION: ", style="bold cyan")
            out.append(format_call(d["tool"], d.get("tool_args", {})))
            c.print(out)
        elif kind == "invalid_decision":
            c.print(Text(f"Invalid decision at step {event['step']}: {event['error']}", style="bold red"))
        elif kind == "user_feedback":
            c.print(Text("Feedback recorded; the action was not run.", style="magenta"))
        elif kind == "tool_result":
            output = str(event["output"])
            if len(output) > RESULT_PREVIEW_CHARS:
                output = output[:RESULT_PREVIEW_CHARS] + f" ... [{len(output) - RESULT_PREVIEW_CHARS} more chars]"
            label, style = ("RESULT", "green") if event["ok"] else ("ERROR", "red")
            c.print(Text.assemble((f"{label}: ", style + " bold"), output))
        elif kind == "warning":
            c.print(Text(event["message"], style="bold yellow"))
        elif kind == "finished":
            style = "bold green" if event["status"] == "finished" else "bold yellow"
            c.print(Text(f"\n{escape(event['summary'])}", style=style))


class JsonDisplay:
    """One JSON event per line on stdout, flushed so a reader sees each as it happens."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()
