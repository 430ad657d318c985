"""`autogpt runs list|show`."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Column, Table

from forge.config import Settings
from forge.errors import RunError
from forge.security.untrusted_text import terminal_safe as safe


def list_command(settings: Settings, json_output: bool) -> None:
    from forge.runs.log import list_runs

    runs = list_runs(settings.runs_dir())
    if json_output:
        print(json.dumps(runs, indent=1))
        return
    console = Console()
    if not runs:
        console.print(f"No runs under {settings.runs_dir()}. Start one with: autogpt run \"your goal\"")
        return
    table = Table(Column("run id", no_wrap=True), Column("status", no_wrap=True), "steps", "tokens", "cost $",
                  Column("model", max_width=24), "goal")
    for r in runs:
        tokens = _number(r.get("prompt_tokens")) + _number(r.get("completion_tokens"))
        table.add_row(
            safe(r.get("run_id", "?")), safe(r.get("status", "?")), str(int(_number(r.get("steps")))),
            str(int(tokens)), f"{_number(r.get('cost_usd')):.4f}", safe(r.get("model", "")),
            safe(r.get("goal", ""))[:60],
        )
    console.print(table)


def _number(value: object) -> float:
    """A count from a stored record; a damaged one shows as 0 rather than breaking the listing."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def show_command(settings: Settings, run_id: str, json_output: bool) -> None:
    from forge.agent.history import replay
    from forge.runs.log import RunLog, read_state

    run_dir = settings.runs_dir() / run_id
    if not run_dir.is_dir():
        raise RunError(f"no run {run_id!r} under {settings.runs_dir()}; see `autogpt runs list`")
    state = read_state(run_dir)
    done = replay(RunLog(run_dir).events())
    steps = [
        {
            "step": r.step,
            "tool": (r.decision or {}).get("tool"),
            "tool_args": (r.decision or {}).get("tool_args"),
            "thoughts": (r.decision or {}).get("thoughts"),
            "ok": r.ok if r.decision and r.feedback is None else None,
            "output": r.output,
            "feedback": r.feedback,
            "error": r.error,
        }
        for r in done.history
    ]
    if json_output:
        print(json.dumps({"state": state, "steps": steps}, indent=1, ensure_ascii=False))
        return
    console = Console(highlight=False)
    head = f"{safe(run_id)} {safe(state.get('status'))} · {safe(state.get('steps'))} steps"
    console.print(f"{head} · model {safe(state.get('model'))}", markup=False)
    console.print(f"Goal: {safe(state.get('goal'))}", markup=False)
    table = Table("#", "tool", "result")
    for s in steps:
        if s["error"]:
            result = f"invalid decision: {s['error']}"
        elif s["feedback"] is not None:
            result = f"not run; feedback: {s['feedback']}"
        else:
            result = ("ok: " if s["ok"] else "error: ") + str(s["output"] or "").replace("\n", " ")[:100]
        table.add_row(safe(s["step"]), safe(s["tool"] or "-"), safe(result))
    console.print(table)
