"""`autogpt runs list|show|undo|delete|prune`."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from forge.config import Settings
from forge.errors import ConfigError, RunError
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


EXEC_TOOLS = ("execute_python", "execute_shell")
_EXIT = re.compile(r"^(?:exit code (-?\d+)|killed:)")


def step_ok(tool: str | None, ok: bool | None, output: str | None) -> bool | None:
    """Whether a step succeeded: the tool's own verdict. The code tools fail a step on a non-zero exit
    now; runs recorded before that kept such a step ok with "exit code N" in its output, so the exit
    status is read here too."""
    if not ok or tool not in EXEC_TOOLS:
        return ok
    m = _EXIT.match(output or "")
    return not (m and (m.group(1) is None or m.group(1) != "0"))


def args_line(args: Any, limit: int = 80) -> str:
    """A step's tool arguments on one line: `path='a.txt', content='...' (120 chars)`."""
    if not isinstance(args, dict):
        return ""
    parts = []
    for key, value in args.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        shown = text.replace("\n", "\\n")
        if len(shown) > 30:
            shown = shown[:27] + f"... ({len(text)} chars)"
        parts.append(f"{key}={shown!r}" if isinstance(value, str) else f"{key}={shown}")
    line = ", ".join(parts)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def show_command(settings: Settings, run_id: str, json_output: bool, diffs: bool = False) -> None:
    from autogpt_cli.diff_view import render_changes
    from forge.agent.history import replay
    from forge.events.models import FilesChanged
    from forge.runs.log import RunLog, read_state

    run_dir = settings.runs_dir() / run_id
    if not run_dir.is_dir():
        raise RunError(f"no run {run_id!r} under {settings.runs_dir()}; see `autogpt runs list`")
    state = read_state(run_dir)
    events = list(RunLog(run_dir).events())
    done = replay(events)
    files = {ev.step: ev for ev in events if isinstance(ev, FilesChanged)}
    steps = [
        {
            "step": r.step,
            "tool": (r.decision or {}).get("tool"),
            "tool_args": (r.decision or {}).get("tool_args"),
            "thoughts": (r.decision or {}).get("thoughts"),
            "ok": step_ok((r.decision or {}).get("tool"), r.ok, r.output)
            if r.decision and r.feedback is None else None,
            "output": r.output,
            "feedback": r.feedback,
            "error": r.error,
            "files": [c.model_dump() for c in files[r.step].changes] if r.step in files else [],
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
    table = Table("#", "tool", Column("arguments", max_width=50), "result", "files")
    for s in steps:
        if s["error"]:
            result = f"invalid decision: {s['error']}"
        elif s["feedback"] is not None:
            result = f"not run; feedback: {s['feedback']}"
        else:
            result = ("ok: " if s["ok"] else "error: ") + str(s["output"] or "").replace("\n", " ")[:100]
        changed = ", ".join(f"{c['path']} ({c['change']})" for c in s["files"][:3])
        if len(s["files"]) > 3:
            changed += f", +{len(s['files']) - 3} more"
        table.add_row(safe(s["step"]), safe(s["tool"] or "-"), safe(args_line(s["tool_args"])), safe(result),
                      safe(changed))
    console.print(table)
    if diffs:
        for step, event in sorted(files.items()):
            if event.changes:
                console.print(f"\nStep {step}", style="bold", markup=False)
                console.print(render_changes(event, max_lines=10_000))  # all the event kept
    elif files:
        console.print(f"See the diffs with: autogpt runs show {safe(run_id)} --diff", markup=False)


# Undo --------------------------------------------------------------------------------------------
def confirm(question: str, yes: bool) -> bool:
    """True with --yes, else the user's answer; without a terminal to answer, an error naming --yes."""
    if yes:
        return True
    from autogpt_cli.approval import read_line

    try:
        answer = read_line(f"{question} [y/N] ")
    except EOFError:
        raise ConfigError("no answer (input is not a terminal); pass --yes to go ahead") from None
    return answer.strip().lower() in ("y", "yes")


def undo_command(settings: Settings, run_id: str, to_step: int, yes: bool, force: bool) -> int:
    from forge.runs.log import is_driven
    from forge.runs.versions import VersionStore, apply_undo, plan_undo

    run_dir = settings.runs_dir() / run_id
    if not (run_dir / "events.jsonl").is_file():
        raise RunError(f"no run {run_id!r} under {settings.runs_dir()}; see `autogpt runs list`")
    if is_driven(run_dir):
        raise RunError(f"run {run_id} is running; stop it before undoing its changes")
    store = VersionStore.open(run_dir)
    console = Console(highlight=False)
    if store is None:
        console.print(f"Run {safe(run_id)} changed no files (or kept no versions): nothing to undo.", markup=False)
        return 0
    actions = plan_undo(store, to_step)
    since = f"after step {to_step}" if to_step else "by the run"
    if not actions:
        console.print(f"Nothing to undo: the files changed {since} are already as they were.", markup=False)
        return 0
    console.print(f"Undo the changes {since} in {safe(store.root)}:", markup=False)
    verbs = {"restore": "restore", "recreate": "recreate (deleted by the run)", "delete": "remove (created by the run)"}
    for a in actions:
        line = f"  {verbs[a.action]}: {safe(a.path)}"
        if a.problem:
            line += f"  [{safe(a.problem)}]"
        console.print(line, style="red" if a.problem else None, markup=False)
    blocking = [a for a in actions if a.problem]
    if blocking and not force:
        raise RunError(
            f"{len(blocking)} file(s) cannot be undone safely ({blocking[0].path}: {blocking[0].problem}); "
            "pass --force to overwrite them with the run's previous version anyway"
        )
    if not confirm(f"Restore {len(actions)} file(s)?", yes):
        console.print("Nothing changed.")
        return 1
    apply_undo(store, actions, to_step, force=force)
    lost = [a.path for a in actions if a.lost]
    console.print(f"Restored {len(actions) - len(lost)} file(s).", style="green", markup=False)
    if lost:
        console.print(f"Not restored (no previous version kept): {safe(', '.join(lost))}", style="red", markup=False)
    return 0


# Delete and prune --------------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    m = _DURATION.match(text.lower())
    if not m:
        raise ConfigError(f"--older-than {text!r} is not a duration; use e.g. 30d, 12h, 2w or 90m")
    return float(m.group(1)) * _SECONDS[m.group(2)]


def _created(state: dict[str, Any], run_dir: Path) -> float:
    try:
        return datetime.fromisoformat(str(state["created_at"])).timestamp()
    except (KeyError, ValueError):
        return (run_dir / "events.jsonl").stat().st_mtime


def check_statuses(statuses: list[str]) -> None:
    import difflib

    from forge.agent.outcome import Status

    known = [s.value for s in Status if s is not Status.RUNNING] + ["interrupted", "unknown", "failed"]
    for status in statuses:
        if status not in known:
            close = difflib.get_close_matches(status, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"--status {status!r} is not a run status; {hint}use one of {', '.join(known)}")


def delete_command(settings: Settings, run_ids: list[str], yes: bool) -> None:
    from forge.runs.log import EVENTS_FILE, delete_run, is_driven

    runs_dir = settings.runs_dir()
    for run_id in run_ids:  # check all before deleting any
        if "/" in run_id or not (runs_dir / run_id / EVENTS_FILE).is_file():
            raise RunError(f"no run {run_id!r} under {runs_dir}; see `autogpt runs list`")
        if is_driven(runs_dir / run_id):
            raise RunError(f"run {run_id} is running; stop it before deleting it")
    if not confirm(f"Delete {len(run_ids)} run(s) with their logs and kept file versions?", yes):
        print("Nothing deleted.", file=sys.stderr)
        raise SystemExit(1)
    for run_id in run_ids:
        delete_run(runs_dir, run_id)
        print(f"deleted {run_id}")


def prune_command(
    settings: Settings, older_than: str | None, statuses: list[str], keep: int | None, yes: bool
) -> None:
    from forge.runs.log import delete_run, is_driven, list_runs

    if older_than is None and not statuses and keep is None:
        raise ConfigError("say which runs to prune: --older-than 30d, --status failed and/or --keep N")
    check_statuses(statuses)
    runs_dir = settings.runs_dir()
    cutoff = time.time() - parse_duration(older_than) if older_than else None
    runs = list_runs(runs_dir)  # newest first
    kept_newest = {r["run_id"] for r in runs[:keep]} if keep is not None else set()
    chosen = []
    for r in runs:
        run_dir = runs_dir / r["run_id"]
        if r["run_id"] in kept_newest or is_driven(run_dir):
            continue
        if cutoff is not None and _created(r, run_dir) > cutoff:
            continue
        status = r.get("status")
        if statuses and status not in statuses and not ("failed" in statuses and status != "finished"):
            continue  # "failed": every ending but finished
        chosen.append(r)
    console = Console(highlight=False)
    if not chosen:
        console.print("No run matches; nothing to prune.")
        return
    for r in chosen:
        console.print(f"  {safe(r['run_id'])}  {safe(r.get('status'))}  {safe(str(r.get('goal', ''))[:60])}",
                      markup=False)
    if not confirm(f"Delete these {len(chosen)} run(s)?", yes):
        console.print("Nothing deleted.")
        raise SystemExit(1)
    for r in chosen:
        delete_run(runs_dir, r["run_id"])
    console.print(f"Deleted {len(chosen)} run(s).", markup=False)
