"""Start, resume and list workflow runs under `<workspace>/workflows/runs/<run_id>/`.

A run directory holds events.jsonl, state.json (the RunLog contract shared with agent runs) and
workflow.json, the exact workflow that ran last, so `resume` does not depend on the original file.
`resume` may also take a corrected workflow and more inputs (reconcile.py decides what re-runs);
workflow.json then becomes that workflow.

    result = await run_workflow(load_workflow(path), registry, settings, inputs=["topic=cats"])
    result = await resume_workflow(result.run_id, registry, settings)
    result = await resume_workflow(result.run_id, registry, settings, workflow=load_workflow(fixed),
                                   inputs=["summary.model=openai/gpt-4o-mini"])
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
from forge.workflow.model import Workflow, WorkflowValidationError, parse_workflow
from forge.workflow.reconcile import merged_inputs, reusable
from forge.workflow.validate import Plan, RunInputs, run_input_names, split_inputs, validate

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
    """Completed nodes of a run, from its events (the last node_finished of each node wins). A
    resume's re-run nodes and skipped nodes lose earlier results: a corrected workflow may have
    made them stale, and an interrupted re-run must not bring them back."""
    last: dict[str, dict[str, Any]] = {}
    for event in read_events(run_dir):
        kind = event.get("type")
        if kind == "node_finished":
            last[event["node"]] = event
        elif kind == "node_skipped":
            last.pop(event["node"], None)
        elif kind == "resumed":
            for nid in event.get("rerun") or []:
                last.pop(nid, None)
    return {
        nid: NodeResult(status=COMPLETED, outputs=dict(e.get("outputs") or {}), duration_s=e.get("duration_s"),
                        cached=bool(e.get("cached")), attempts=int(e.get("attempts") or 0), replayed=True)
        for nid, e in last.items() if e.get("status") == COMPLETED
    }


def _last_inputs_and_file(run_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The run's inputs and workflow file as of its last invocation (a resume may have changed them)."""
    inputs: dict[str, Any] = {}
    source = None
    for event in read_events(run_dir):
        if event.get("type") == "run_started":
            inputs, source = dict(event.get("inputs") or {}), event.get("file")
        elif event.get("type") == "resumed":
            if "inputs" in event:
                inputs = dict(event["inputs"] or {})
            source = event.get("file") or source
    return inputs, source


def _reconciled_inputs(workflow: Workflow, registry: BlockRegistry, previous: dict[str, Any],
                       new: dict[str, Any]) -> RunInputs:
    blocks = {n.id: b for n in workflow.nodes if (b := registry.get(n.block_id)) is not None}
    names = run_input_names(workflow, blocks)
    return split_inputs(merged_inputs(previous, new, {n.id for n in workflow.nodes}, names), workflow)


async def resume_workflow(
    run_id: str,
    registry: BlockRegistry,
    settings: Settings,
    *,
    workflow: Workflow | None = None,
    source: str | None = None,
    inputs: Iterable[str] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: bool = False,
    executor: Executor | None = None,
    listener: Listener | None = None,
    ask_user: Callable[[str], str] | None = None,
) -> RunResult:
    """Re-run what did not complete (failed, upstream_failed, skipped, pending, interrupted); replay
    completed nodes' outputs from the log without executing them; append to the same log.

    `workflow` (a corrected file) and `inputs` (more `--input` pairs, on top of the run's) are
    validated first; completed nodes whose definition they change re-run, with everything downstream."""
    run_dir = runs_dir(settings) / run_id
    if not (run_dir / WORKFLOW_COPY).is_file():
        raise RunError(f"no workflow run {run_id!r} under {runs_dir(settings)}; see `autogpt workflow runs`")
    state = read_state(run_dir)
    if state.get("status") == "running":
        raise RunError(f"run {run_id} is still running (pid {state.get('pid')}); wait for it or stop it first")
    stored = parse_workflow(json.loads((run_dir / WORKFLOW_COPY).read_text(encoding="utf-8")), run_id)
    previous_inputs, previous_file = _last_inputs_and_file(run_dir)
    new_workflow = workflow or stored
    added = split_inputs(list(inputs), new_workflow).as_dict()
    run_inputs = _reconciled_inputs(new_workflow, registry, previous_inputs, added)
    plan = validate(new_workflow, registry, run_inputs, source or str(previous_file or run_id))
    try:
        old_plan: Plan | None = validate(stored, registry, _reconciled_inputs(stored, registry, previous_inputs, {}))
    except WorkflowValidationError:
        old_plan = None  # e.g. a block from a --blocks-dir not given now: treat every node as changed
    completed = replay_completed(run_dir)
    keep, changed = reusable(run_id, old_plan, plan, set(completed))
    replayed = {nid: r for nid, r in completed.items() if nid in keep}
    rerun = [nid for nid in plan.nodes if nid not in replayed]
    if not rerun:
        raise RunError(f"run {run_id} already completed every node; nothing to resume (start a new run instead)")
    log = RunLog.open(runs_dir(settings), run_id, **_log_kwargs(settings, listener))
    try:
        log.lock_driver()
        if workflow is not None:
            write_json_atomic(log.dir / WORKFLOW_COPY, workflow.raw)  # what a later resume starts from
        log.append("resumed", run_id=run_id, workflow=new_workflow.name, replayed=sorted(replayed), rerun=rerun,
                   file=source, changed=changed, inputs=run_inputs.as_dict())
        extra: dict[str, Any] = {k: state[k] for k in ("workflow", "file", "created_at") if k in state}
        extra.update(workflow=new_workflow.name, inputs=run_inputs.as_dict(), resumed_at=time.time())
        if source:
            extra["file"] = source
        run = WorkflowRun(plan, settings, log, executor=executor, concurrency=concurrency,
                          cache=_cache(settings, cache), ask_user=ask_user, replayed=replayed, state_extra=extra)
        return await run.execute()
    finally:
        log.close()


def list_workflow_runs(settings: Settings) -> list[dict[str, Any]]:
    """State snapshots of workflow runs, newest first (a killed run reads as `interrupted`)."""
    return list_runs(runs_dir(settings))
