"""Start, resume and list workflow runs under `<workspace>/workflows/runs/<run_id>/`.

A run directory holds events.jsonl, state.json (the RunLog contract shared with agent runs) and
workflow.json, the exact workflow that ran, so `resume` does not depend on the original file.

    result = await run_workflow(load_workflow(path), registry, settings, inputs=["topic=cats"])
    result = await resume_workflow(result.run_id, registry, settings)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from forge.blocks.registry import BlockRegistry
from forge.config import Settings
from forge.errors import RunError
from forge.events.models import parse_workflow_event
from forge.runs.log import RunLog, list_runs, read_events, read_state, write_json_atomic
from forge.security.permissions import private_dir
from forge.security.secrets import workspace_redactor
from forge.workflow.cache import OutputCache
from forge.workflow.engine import COMPLETED, DEFAULT_CONCURRENCY, NodeResult, RunResult, WorkflowRun
from forge.workflow.executors import Executor
from forge.workflow.model import Workflow, parse_workflow
from forge.workflow.validate import RunInputs, split_inputs, validate

WORKFLOW_COPY = "workflow.json"
Listener = Callable[[dict[str, Any]], None]


def runs_dir(settings: Settings) -> Path:
    return settings.workflows_dir() / "runs"


def _log_kwargs(settings: Settings, listener: Listener | None) -> dict[str, Any]:
    # Raises ConfigError when the credentials file is unreadable: never run unredacted.
    return {"listener": listener, "redactor": workspace_redactor(settings.workspace), "parse": parse_workflow_event}


def _cache(settings: Settings, enabled: bool) -> OutputCache | None:
    return OutputCache(settings.workflows_dir() / "cache") if enabled else None


async def run_workflow(
    workflow: Workflow,
    registry: BlockRegistry,
    settings: Settings,
    *,
    inputs: Iterable[str] | dict[str, Any] | RunInputs = (),
    source: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: bool = False,
    executor: Executor | None = None,
    listener: Listener | None = None,
    ask_user: Callable[[str], str] | None = None,
) -> RunResult:
    """Validate (raising WorkflowValidationError before anything is created), then run and record."""
    run_inputs = inputs if isinstance(inputs, RunInputs) else split_inputs(inputs, workflow)
    plan = validate(workflow, registry, run_inputs, source or workflow.name)
    private_dir(runs_dir(settings), root=settings.workspace)
    log = RunLog.create(runs_dir(settings), **_log_kwargs(settings, listener))
    log.lock_driver()
    try:
        write_json_atomic(log.dir / WORKFLOW_COPY, workflow.raw)
        extra = {"workflow": workflow.name, "file": source, "created_at": time.time(), "inputs": run_inputs.as_dict()}
        log.append("run_started", run_id=log.run_id, workflow=workflow.name, file=source, inputs=run_inputs.as_dict(),
                   nodes=len(plan.nodes), executor=(executor.name if executor else "inprocess"))
        run = WorkflowRun(plan, settings, log, executor=executor, concurrency=concurrency,
                          cache=_cache(settings, cache), ask_user=ask_user, state_extra=extra)
        return await run.execute()
    finally:
        log.close()


def replay_completed(run_dir: Path) -> dict[str, NodeResult]:
    """Completed nodes of a run, from its events (the last node_finished of each node wins)."""
    last: dict[str, dict[str, Any]] = {}
    for event in read_events(run_dir):
        if event.get("type") == "node_finished":
            last[event["node"]] = event
    return {
        nid: NodeResult(status=COMPLETED, outputs=dict(e.get("outputs") or {}), duration_s=e.get("duration_s"),
                        cached=bool(e.get("cached")), attempts=int(e.get("attempts") or 0), replayed=True)
        for nid, e in last.items() if e.get("status") == COMPLETED
    }


async def resume_workflow(
    run_id: str,
    registry: BlockRegistry,
    settings: Settings,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: bool = False,
    executor: Executor | None = None,
    listener: Listener | None = None,
    ask_user: Callable[[str], str] | None = None,
) -> RunResult:
    """Re-run what did not complete (failed, upstream_failed, skipped, pending, interrupted); replay
    completed nodes' outputs from the log without executing them; append to the same log."""
    run_dir = runs_dir(settings) / run_id
    if not (run_dir / WORKFLOW_COPY).is_file():
        raise RunError(f"no workflow run {run_id!r} under {runs_dir(settings)}; see `autogpt workflow runs`")
    state = read_state(run_dir)
    if state.get("status") == "running":
        raise RunError(f"run {run_id} is still running (pid {state.get('pid')}); wait for it or stop it first")
    workflow = parse_workflow(json.loads((run_dir / WORKFLOW_COPY).read_text(encoding="utf-8")), run_id)
    started = next((e for e in read_events(run_dir) if e.get("type") == "run_started"), {})
    run_inputs = split_inputs(dict(started.get("inputs") or {}), workflow)
    plan = validate(workflow, registry, run_inputs, str(started.get("file") or run_id))
    replayed = {nid: r for nid, r in replay_completed(run_dir).items() if nid in plan.nodes}
    rerun = [nid for nid in plan.nodes if nid not in replayed]
    if not rerun:
        raise RunError(f"run {run_id} already completed every node; nothing to resume (start a new run instead)")
    log = RunLog.open(runs_dir(settings), run_id, **_log_kwargs(settings, listener))
    try:
        log.lock_driver()
        log.append("resumed", run_id=run_id, workflow=workflow.name, replayed=sorted(replayed), rerun=rerun)
        extra: dict[str, Any] = {k: state[k] for k in ("workflow", "file", "created_at", "inputs") if k in state}
        extra["resumed_at"] = time.time()
        run = WorkflowRun(plan, settings, log, executor=executor, concurrency=concurrency,
                          cache=_cache(settings, cache), ask_user=ask_user, replayed=replayed, state_extra=extra)
        return await run.execute()
    finally:
        log.close()


def list_workflow_runs(settings: Settings) -> list[dict[str, Any]]:
    """State snapshots of workflow runs, newest first (a killed run reads as `interrupted`)."""
    return list_runs(runs_dir(settings))
