"""`autogpt workflow ...` behaviour and rendering: call forge.workflow, draw with rich.

stdout carries results: tables, or JSON with --json. `run`/`resume --json` print JSON lines like
`autogpt run --json`: every event as it is logged, then one `{"type": "result", ...}` line (run id,
status, per-node status and error, outputs). Other commands print one JSON document. Notes go to
stderr when --json is set, so a pipe always receives clean JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Column, Table
from rich.text import Text

from forge.blocks.registry import BlockRegistry
from forge.config import Settings
from forge.errors import ConfigError
from forge.security.secrets import Redactor, workspace_redactor
from forge.security.untrusted_text import terminal_safe
from forge.workflow.engine import RunResult
from forge.workflow.executors import Executor, make_executor

STATUS_STYLES = {
    "pending": "dim", "running": "cyan", "completed": "green", "failed": "bold red",
    "skipped": "yellow", "upstream_failed": "red", "interrupted": "yellow",
}
PREVIEW_CHARS = 80


def load_registry(blocks_dir: Path | None) -> BlockRegistry:
    return BlockRegistry.from_plugins(blocks_dir=blocks_dir)


def _preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = terminal_safe(text.replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _styled(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


# Progress -------------------------------------------------------------------------------------------
class WorkflowProgress:
    """RunLog listener. On a terminal: a live table (status, duration, spinner) per node. Elsewhere:
    one line per finished node, since redrawn tables in a log file are noise."""

    def __init__(self, console: Console, node_blocks: dict[str, str]):
        self.console = console
        self.blocks = node_blocks
        self.status = dict.fromkeys(node_blocks, "pending")
        self.started: dict[str, float] = {}
        self.duration: dict[str, float] = {}
        self.note: dict[str, str] = {}
        self.tokens: dict[str, int] = {}  # streamed chunks (`chunk` outputs of llm_call), about a token each
        self.spinners = {nid: Spinner("dots") for nid in node_blocks}
        self.run_id = ""
        self.live: Live | None = None

    def __rich__(self) -> Table:
        table = Table(Column("", width=2), Column("node", no_wrap=True), "block", "status",
                      Column("time", justify="right"), Column("detail", overflow="ellipsis", no_wrap=True),
                      box=None, title=f"run {self.run_id}" if self.run_id else None, title_justify="left")
        now = time.perf_counter()
        for nid, block in self.blocks.items():
            status = self.status[nid]
            secs = self.duration.get(nid, now - self.started[nid] if nid in self.started else None)
            table.add_row(self.spinners[nid] if status == "running" else Text(_ICONS.get(status, " ")),
                          nid, block, _styled(status), f"{secs:.2f}s" if secs is not None else "",
                          Text(self.note.get(nid, "")))
        return table

    def __enter__(self) -> WorkflowProgress:
        if self.console.is_terminal:
            self.live = Live(self, console=self.console, refresh_per_second=10, transient=False)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()
            self.live = None

    def ask_user(self, prompt: str) -> str:
        """Blocks may ask questions; the live table pauses while the user types."""
        if self.live is not None:
            self.live.stop()
        try:
            return self.console.input(f"[bold cyan]?[/] {escape(prompt)} ")
        finally:
            if self.live is not None:
                self.live.start()

    def __call__(self, event: Any) -> None:  # a forge.events workflow event
        from forge.events import models as ev

        nid = getattr(event, "node", "")
        match event:
            case ev.WorkflowStarted() | ev.WorkflowResumed():
                self.run_id = event.run_id
                for replayed in getattr(event, "replayed", []):
                    self.status[replayed], self.note[replayed] = "completed", "replayed from the log"
                if self.live is None:
                    verb = "Resuming" if isinstance(event, ev.WorkflowResumed) else "Running"
                    self.console.print(f"{verb} workflow [bold]{escape(event.workflow)}[/] · run {self.run_id}")
            case ev.NodeStarted():
                self.status[nid] = "running"
                self.started[nid] = time.perf_counter()
                self.note[nid] = f"attempt {event.attempt}" if event.attempt > 1 else ""
            case ev.NodeOutput() if event.output == "chunk":
                self.tokens[nid] = self.tokens.get(nid, 0) + 1
                self.note[nid] = f"{self.tokens[nid]} tokens"
            case ev.NodeOutput():
                count = f"{self.tokens[nid]} tokens · " if nid in self.tokens else ""
                self.note[nid] = f"{count}{event.output} = {_preview(event.value, 60)}"
            case ev.NodeRetry():
                self.note[nid] = f"retry in {event.delay_s:g}s: {terminal_safe(event.error)}"
            case ev.NodeFinished() | ev.NodeSkipped():
                status = event.status.value
                self.status[nid] = status
                finished = isinstance(event, ev.NodeFinished)
                if finished:
                    self.duration[nid] = float(event.duration_s or 0)
                detail = event.error if finished else event.reason
                detail = terminal_safe(detail or ("cache hit" if finished and event.cached else ""))
                if detail or status != "completed":
                    self.note[nid] = detail or ""
                if self.live is None:
                    line = Text.assemble(f"{_ICONS.get(status, ' ')} {nid} ", _styled(status))
                    if self.duration.get(nid) is not None and finished:
                        line.append(f" {self.duration[nid]:.2f}s")
                    if nid in self.tokens:
                        line.append(f" {self.tokens[nid]} tokens")
                    if detail:
                        line.append(f"  {detail}", style="dim")
                    self.console.print(line)


_ICONS = {"completed": "✓", "failed": "✗", "skipped": "-", "upstream_failed": "↯", "pending": "·"}


def _summary(console: Console, result: RunResult, redactor: Redactor) -> None:
    table = Table("node", "status", Column("time", justify="right"), Column("outputs / error", overflow="fold"))
    for nid, r in result.nodes.items():
        if r.status == "completed":
            detail = ", ".join(f"{k}={_preview(v, 50)}" for k, v in r.outputs.items())
            if r.cached:
                detail += " (cached)"
            elif r.replayed:
                detail += " (replayed)"
        else:
            detail = terminal_safe(r.error or "")
        table.add_row(nid, _styled(r.status), f"{r.duration_s:.2f}s" if r.duration_s is not None else "",
                      Text(redactor.text(detail)))
    console.print(table)
    # What display_result nodes show is the point of the run: print it whole, not as a preview.
    for nid, r in result.nodes.items():
        if r.status == "completed" and r.block_id == "display_result":
            body = r.outputs.get("text") or r.outputs.get("value")
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2, default=str)
            console.print(Panel(Text(terminal_safe(redactor.text(text))), title=nid, title_align="left"))
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n)
    style = "bold green" if result.status == "completed" else "bold red"
    console.print(Text(f"Run {result.run_id} {result.status}: {counts}", style=style))
    if result.status != "completed":
        console.print(f"Fix the cause, then re-run only what failed: autogpt workflow resume {result.run_id} "
                      "[FIXED_FILE] [-i NODE.FIELD=VALUE]", markup=False)


# Running ------------------------------------------------------------------------------------------------
async def _with_executor(executor: Executor, job: Callable[[Executor], Awaitable[RunResult]]) -> RunResult:
    try:
        return await job(executor)
    finally:
        await executor.close()


def _drive(job: Callable[..., Awaitable[RunResult]], node_blocks: dict[str, str], *, json_output: bool,
           executor: Executor, settings: Settings) -> int:
    """Run a job with progress (or none with --json), print the result, return the exit code.

    What is printed is redacted like the run log: outputs may hold a credential's value."""
    redactor = workspace_redactor(settings.workspace)
    out = Console(highlight=False)
    progress_console = Console(stderr=True, highlight=False) if json_output else out
    progress = WorkflowProgress(progress_console, node_blocks)
    interactive = not json_output and sys.stdin.isatty()
    try:
        if json_output:
            from autogpt_cli.display import JsonDisplay

            lines = JsonDisplay()
            result = asyncio.run(_with_executor(executor, lambda ex: job(ex, lines, None)))
        else:
            with progress:
                result = asyncio.run(_with_executor(
                    executor, lambda ex: job(ex, progress, progress.ask_user if interactive else None)))
    except KeyboardInterrupt:
        hint = f"; resume with `autogpt workflow resume {progress.run_id}`" if progress.run_id else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return 130
    if json_output:
        print(json.dumps(redactor.data(result.summary()), ensure_ascii=False, default=str), flush=True)
        print(f"run {result.run_id} {result.status}", file=sys.stderr)
    else:
        _summary(out, result, redactor)
    return 0 if result.status == "completed" else 1


def validate_command(file: Path, inputs: list[str], blocks_dir: Path | None) -> None:
    from forge.workflow.model import load_workflow
    from forge.workflow.validate import split_inputs, validate

    workflow = load_workflow(file)
    plan = validate(workflow, load_registry(blocks_dir), split_inputs(inputs, workflow), str(file))
    wires = sum(len(p.incoming) for p in plan.nodes.values())
    extra = f" ({len(workflow.edges) - wires} from the trigger)" if len(workflow.edges) != wires else ""
    print(f"valid: {len(plan.nodes)} nodes, {len(workflow.edges)} edges{extra}")


def run_command(settings: Settings, file: Path, *, inputs: list[str], json_output: bool, cache: bool,
                concurrency: int, executor_name: str, scheduler: str | None, blocks_dir: Path | None) -> int:
    from forge.workflow.model import load_workflow
    from forge.workflow.runs import run_workflow
    from forge.workflow.validate import split_inputs, validate

    workflow = load_workflow(file)
    registry = load_registry(blocks_dir)
    run_inputs = split_inputs(inputs, workflow)
    validate(workflow, registry, run_inputs, str(file))  # fail before connecting to a scheduler
    executor = make_executor(executor_name, scheduler)

    def job(ex: Executor, listener: Any, ask: Any) -> Awaitable[RunResult]:
        return run_workflow(workflow, registry, settings, inputs=run_inputs, source=str(file),
                            concurrency=concurrency, cache=cache, executor=ex, listener=listener, ask_user=ask)

    return _drive(job, {n.id: n.block_id for n in workflow.nodes}, json_output=json_output, executor=executor,
                  settings=settings)


_ACTION_NOTES = {
    "ran": "ran (no side effects)",
    "stubbed": "stubbed: placeholder outputs",
    "previewed": "not run: would send (below)",
}


def dry_run_command(settings: Settings, file: Path, *, inputs: list[str], json_output: bool, live_reads: bool,
                    blocks_dir: Path | None) -> int:
    """`workflow run --dry-run`: exit 0 when the walk completed, 1 when a node that ran (or an input) failed."""
    from forge.workflow.dryrun import dry_run_workflow
    from forge.workflow.model import load_workflow

    workflow = load_workflow(file)
    def ask(question: str) -> str:
        return Console().input(f"[bold cyan]?[/] {escape(question)} ")

    interactive = not json_output and sys.stdin.isatty()
    report = asyncio.run(dry_run_workflow(workflow, load_registry(blocks_dir), settings, inputs=inputs,
                                          source=str(file), live_reads=live_reads,
                                          ask_user=ask if interactive else None))
    code = 0 if report.status == "completed" else 1
    if json_output:
        print(report.model_dump_json())
        return code
    console = Console(highlight=False)
    console.print(Text.assemble("Dry run of workflow ", (workflow.name, "bold"), " (nothing is sent or written)"))
    table = Table("node", "block", "effect", Column("what the dry run did", overflow="fold"), box=None)
    for n in report.nodes:
        if n.status in ("completed",) and n.action:
            what = Text(_ACTION_NOTES[n.action], style="green" if n.action == "ran" else "cyan")
            if n.note:
                what.append(f" ({terminal_safe(n.note)})", style="dim")
        else:
            what = Text.assemble(_styled(n.status), f": {terminal_safe(n.error or '')}" if n.error else "")
        table.add_row(n.node, n.block, n.effect.value if n.effect else "-", what)
    console.print(table)
    for n in report.previews:
        assert n.preview is not None
        p = n.preview
        body = p.payload if isinstance(p.payload, str) else json.dumps(p.payload, ensure_ascii=False, indent=2,
                                                                        default=str)
        parts: list[Any] = [Text.assemble((p.action, "bold yellow"), f" {terminal_safe(p.destination)}")]
        parts += [Text(terminal_safe(body))] if p.payload is not None else []
        parts += [Text(f"! {terminal_safe(note)}", style="yellow") for note in p.notes]
        console.print(Panel(Group(*parts), title=f"{n.node} ({n.block}) would", title_align="left"))
    stubbed = sum(n.action == "stubbed" for n in report.nodes)
    summary = f"{len(report.previews)} side effect(s) previewed, nothing sent"
    if stubbed:
        summary += f"; {stubbed} read(s) stubbed with placeholders (--live-reads runs them)"
    console.print(Text(summary + ".", style="bold green" if code == 0 else "bold red"))
    if code:
        console.print("Some nodes failed during the dry run: the real run would fail there too.", style="red")
    return code


def resume_command(settings: Settings, run_id: str, *, file: Path | None, inputs: list[str], json_output: bool,
                   cache: bool, concurrency: int, executor_name: str, scheduler: str | None,
                   blocks_dir: Path | None) -> int:
    from forge.workflow.model import load_workflow, parse_workflow
    from forge.workflow.runs import WORKFLOW_COPY, resume_workflow, runs_dir

    copy = runs_dir(settings) / run_id / WORKFLOW_COPY
    if not copy.is_file():
        raise ConfigError(f"no workflow run {run_id!r} under {runs_dir(settings)}; see `autogpt workflow runs` "
                          "(and the same --workspace)")
    workflow = load_workflow(file) if file else parse_workflow(json.loads(copy.read_text(encoding="utf-8")), run_id)
    registry = load_registry(blocks_dir)
    executor = make_executor(executor_name, scheduler)

    def job(ex: Executor, listener: Any, ask: Any) -> Awaitable[RunResult]:
        return resume_workflow(run_id, registry, settings, workflow=workflow if file else None,
                               source=str(file) if file else None, inputs=inputs, concurrency=concurrency,
                               cache=cache, executor=ex, listener=listener, ask_user=ask)

    return _drive(job, {n.id: n.block_id for n in workflow.nodes}, json_output=json_output, executor=executor,
                  settings=settings)


def schedule_command(settings: Settings, file: Path, *, max_runs: int | None, cron: str | None, inputs: list[str],
                     cache: bool, concurrency: int, executor_name: str, scheduler: str | None,
                     blocks_dir: Path | None) -> int:
    from forge.workflow.model import load_workflow
    from forge.workflow.runs import run_workflow
    from forge.workflow.schedule import CronSchedule, run_on_schedule
    from forge.workflow.validate import split_inputs, validate

    workflow = load_workflow(file)
    registry = load_registry(blocks_dir)
    run_inputs = split_inputs(inputs, workflow)
    validate(workflow, registry, run_inputs, str(file))
    config = workflow.trigger.config if workflow.trigger else {}
    expr = cron or config.get("interval") or config.get("cron")
    if not expr:
        raise ConfigError(f"{file} has no schedule trigger; add "
                          '"trigger": {"type": "schedule", "config": {"interval": "0 */6 * * *"}} or pass --cron')
    schedule = CronSchedule(str(expr), config.get("timezone"))
    console = Console(highlight=False)
    failures = 0

    async def one(n: int) -> None:
        nonlocal failures
        result = await run_workflow(workflow, registry, settings, inputs=run_inputs, source=str(file),
                                    concurrency=concurrency, cache=cache, executor=executor)
        failures += result.status != "completed"
        counts = ", ".join(f"{c} {s}" for s, c in result.counts().items() if c)
        console.print(Text.assemble(f"[{datetime.now():%Y-%m-%d %H:%M:%S}] run {n} ", (result.run_id, "bold"),
                                    " ", _styled(result.status), f" ({counts})"))

    def waiting(fire: datetime) -> None:
        console.print(f"next run at {fire:%Y-%m-%d %H:%M:%S %Z}".rstrip(), style="dim")

    executor = make_executor(executor_name, scheduler)
    console.print(f"Scheduling [bold]{escape(workflow.name)}[/] on '{escape(str(expr))}'"
                  + (f" ({config.get('timezone')})" if config.get("timezone") else "")
                  + (f", {max_runs} runs" if max_runs else ", until Ctrl-C"))

    async def main() -> int:
        try:
            return await run_on_schedule(schedule, one, max_runs=max_runs, on_wait=waiting)
        finally:
            await executor.close()

    try:
        done = asyncio.run(main())
    except KeyboardInterrupt:
        console.print("schedule stopped (Ctrl-C)")
        return 0
    console.print(f"schedule finished: {done} runs, {failures} failed")
    return 1 if failures else 0


# Listings ----------------------------------------------------------------------------------------------------
def runs_command(settings: Settings, json_output: bool) -> None:
    from forge.workflow.runs import list_workflow_runs, runs_dir

    runs = list_workflow_runs(settings)
    if json_output:
        print(json.dumps(runs, indent=1, ensure_ascii=False, default=str))
        return
    console = Console(highlight=False)
    if not runs:
        console.print(f"No workflow runs under {runs_dir(settings)}. Start one with: autogpt workflow run FILE")
        return
    table = Table(Column("run id", no_wrap=True), "workflow", "status", Column("done", justify="right"),
                  Column("failed", justify="right"), Column("nodes", justify="right"), "started")
    for r in runs:
        counts = r.get("counts") or {}
        started = r.get("created_at")
        when = datetime.fromtimestamp(float(started)).strftime("%Y-%m-%d %H:%M:%S") if started else ""
        table.add_row(str(r.get("run_id", "?")), str(r.get("workflow", "")), _styled(str(r.get("status", "?"))),
                      str(counts.get("completed", 0)), str(counts.get("failed", 0) + counts.get("upstream_failed", 0)),
                      str(len(r.get("nodes") or {})), when)
    console.print(table)


def cache_clear_command(settings: Settings, file: Path | None, json_output: bool) -> None:
    from forge.workflow.cache import OutputCache
    from forge.workflow.model import load_workflow

    cache = OutputCache(settings.workflows_dir() / "cache")
    name = load_workflow(file).name if file else None
    removed = cache.clear(name)
    unlabelled = sum(e.workflow is None for e in cache.entries()) if name else 0
    groups: dict[tuple[str, str, str], list[int]] = {}
    for e in removed:
        groups.setdefault((e.workflow or "?", e.node or "?", e.block), []).append(e.size)
    if json_output:
        print(json.dumps({"cache": str(cache.root), "workflow": name, "removed": len(removed),
                          "bytes": sum(e.size for e in removed),
                          "entries": [{"workflow": w, "node": n, "block": b, "count": len(s), "bytes": sum(s)}
                                      for (w, n, b), s in groups.items()]}, ensure_ascii=False))
        return
    console = Console(highlight=False)
    what = f"of workflow {name!r} " if name else ""
    if not removed:
        console.print(f"No cache entries {what}under {cache.root}; nothing removed.", markup=False)
    else:
        table = Table("workflow", "node", "block", Column("entries", justify="right"), Column("size", justify="right"))
        for (w, n, b), sizes in groups.items():
            table.add_row(w, n, b, str(len(sizes)), _size(sum(sizes)))
        console.print(table)
        console.print(f"Removed {len(removed)} cache entries {what}({_size(sum(e.size for e in removed))}) "
                      f"from {cache.root}", markup=False)
    if unlabelled:
        console.print(f"{unlabelled} older entries record no workflow; `autogpt workflow cache clear --all` "
                      "removes them too", style="dim", markup=False)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def graph_command(settings: Settings, file: Path, out: Path | None, run_id: str | None,
                  blocks_dir: Path | None) -> None:
    from forge.runs.log import read_state
    from forge.workflow.graph import statuses_of, to_html, to_mermaid, to_svg
    from forge.workflow.model import load_workflow
    from forge.workflow.runs import runs_dir

    workflow = load_workflow(file)
    try:
        registry: BlockRegistry | None = load_registry(blocks_dir)
    except ConfigError:
        raise
    except Exception:  # a broken plugin must not stop us drawing: ports just show as written
        registry = None
    statuses = None
    if run_id:
        run_dir = runs_dir(settings) / run_id
        if not run_dir.is_dir():
            raise ConfigError(f"no workflow run {run_id!r} under {runs_dir(settings)}; see `autogpt workflow runs`")
        statuses = statuses_of(read_state(run_dir))
    if out is None:
        sys.stdout.write(to_mermaid(workflow, registry, statuses))
        return
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".svg", ".mmd", ".md"):
        raise ConfigError(f"--out {out}: unknown format {suffix or '(none)'}; use .html, .svg or .mmd")
    if suffix == ".svg":
        text = to_svg(workflow, registry, statuses)
    elif suffix in (".mmd", ".md"):
        text = to_mermaid(workflow, registry, statuses)
    else:
        text = to_html(workflow, registry, statuses, run_id)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write {out} ({e.strerror}); choose a writable path for --out") from None
    print(f"wrote {out} ({len(workflow.nodes)} nodes)")


def blocks_command(blocks_dir: Path | None, json_output: bool) -> None:
    registry = load_registry(blocks_dir)
    if json_output:
        print(json.dumps([b.describe() for b in registry], indent=1, ensure_ascii=False, default=str))
        return
    table = Table(Column("id", no_wrap=True), "categories", "description")
    for b in registry:
        table.add_row(b.id, ", ".join(str(c) for c in b.categories), b.description)
    console = Console(highlight=False)
    console.print(table)
    console.print(f"{len(registry)} blocks. Details: autogpt workflow blocks show ID", markup=False)


def _fields_table(title: str, schema: dict[str, Any], required: set[str]) -> Table:
    table = Table("field", "type", "required", "default", "description", title=title, title_justify="left")
    for name, prop in (schema.get("properties") or {}).items():
        kind = (prop.get("type") or prop.get("$ref", "").rsplit("/", 1)[-1]  # e.g. FileRef
                or " | ".join(str(x.get("type", "?")) for x in prop.get("anyOf", [])) or "any")
        if prop.get("format") == "file-path":
            kind += " (file path)"
        default = json.dumps(prop["default"], default=str) if "default" in prop else ""
        table.add_row(name, kind, "yes" if name in required else "", default, prop.get("description", ""))
    return table


def block_show_command(block_id: str, blocks_dir: Path | None, json_output: bool) -> None:
    registry = load_registry(blocks_dir)
    block = registry.get(block_id)
    if block is None:
        close = registry.closest(block_id)
        hint = f"did you mean {', '.join(close)}?" if close else "list them with `autogpt workflow blocks`"
        raise ConfigError(f"unknown block {block_id!r}; {hint}")
    info = block.describe()
    if json_output:
        print(json.dumps(info, indent=1, ensure_ascii=False, default=str))
        return
    console = Console(highlight=False)
    head = Text.assemble((info["name"], "bold"), f" ({block.id}, v{block.version})")
    lines: list[Any] = [head, Text(block.description or "")]
    meta = [f"categories: {', '.join(info['categories']) or '-'}",
            f"default ports: {block.default_input() or '-'} -> {block.default_output() or '-'}",
            f"cacheable: {'yes' if block.cacheable else 'no'}"]
    if block.credentials:
        meta.append(f"credentials: {', '.join(block.credentials)} (autogpt credentials set PROVIDER ...)")
    lines.append(Text(" · ".join(meta), style="dim"))
    inputs, outputs = info["input_schema"], info["output_schema"]
    lines.append(_fields_table("Inputs", inputs, set(inputs.get("required", []))))
    lines.append(_fields_table("Outputs", outputs, set()))
    console.print(Group(*lines))
