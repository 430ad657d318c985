"""`autogpt workflow run FILE --dry-run`: validate, then walk the graph without side effects.

The real engine walks the plan (same data flow, fan-in, conversion, conditions and skips), with an
executor that decides per node by the block's declared effect (`Block.effect_for`, forge.blocks.base):

- Effect.NONE (pure blocks, local file reads, user_input): really run, so later payloads are real.
- Effect.READ (models, web, remote reads): stubbed by default, with typed placeholders such as
  "<summarize.response: not run (dry run)>": a dry run costs nothing, works offline, and a model's
  answer would differ in the real run anyway. `live_reads=True` runs them for real.
- Effect.WRITE (send, post, HTTP writes, database and file writes, code): never run. The block's
  `preview(input)` says what it would send (destination, method, payload); placeholders flow on.

A pure block fed a placeholder may fail on it (a template reading a field of a stubbed object): that
is the stub's doing, not a fault of the workflow, so such a node is reported as stubbed, with why,
and its outputs become placeholders too. A failure on real input is a failure.

Nothing is recorded: the event log lives in a temporary folder and the output cache is not used.
The report is redacted like a run log (credential values, token-shaped text).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockContext, Effect, Preview
from forge.blocks.filerefs import FileRef
from forge.blocks.registry import BlockRegistry
from forge.config import Settings
from forge.events.models import parse_workflow_event
from forge.runs.log import RunLog
from forge.security.secrets import workspace_redactor
from forge.workflow.convert import (
    ANY,
    BOOL,
    DICT,
    FILE,
    FLOAT,
    INT,
    LIST,
    MODEL,
    NULL,
    UNION,
    ConversionError,
    Shape,
    input_shape,
    output_shape,
)
from forge.workflow.engine import COMPLETED, WorkflowRun
from forge.workflow.executors import Emit, Executor, InProcessExecutor
from forge.workflow.model import Workflow
from forge.workflow.validate import PlannedNode, RunInputs, Wire, split_inputs, validate

Action = Literal["ran", "stubbed", "previewed"]


class DryRunNode(BaseModel):
    node: str
    block: str
    effect: Effect | None = None  # None: never reached (skipped, or its input was invalid)
    action: Action | None = None
    status: str  # the engine's node status: completed, failed, skipped, upstream_failed
    preview: Preview | None = None
    error: str | None = None  # why it failed or was skipped
    note: str | None = None  # why a pure node was stubbed (it could not run on placeholder input)


class DryRunReport(BaseModel):
    dry_run: Literal[True] = True
    workflow: str
    file: str | None = None
    live_reads: bool = False
    status: str  # completed, or failed when a node that really ran (or its input) failed
    nodes: list[DryRunNode] = Field(default_factory=list)

    @property
    def previews(self) -> list[DryRunNode]:
        return [n for n in self.nodes if n.preview is not None]


def placeholder(node: str, port: str, shape: Shape) -> Any:
    """A value of the port's type standing for an output that was not computed."""
    if shape.kind == UNION:
        usable = [o for o in shape.options if o.kind != NULL]
        return placeholder(node, port, usable[0]) if usable else None
    text = f"<{node}.{port}: not run (dry run)>"
    return {
        BOOL: False, INT: 0, FLOAT: 0.0, LIST: [], DICT: {}, MODEL: {},
        FILE: FileRef(path=f"{node}.{port}.dry-run", mime_type="text/plain", size=0).model_dump(),
    }.get(shape.kind, text) if shape.kind != ANY else text


class DryRunExecutor(Executor):
    """Runs effect-free blocks, stubs reads (unless live_reads), previews writes."""

    name = "dry-run"

    def __init__(self, *, live_reads: bool = False, inner: Executor | None = None):
        self.live_reads = live_reads
        self.inner = inner or InProcessExecutor()
        self.effects: dict[str, Effect] = {}
        self.actions: dict[str, Action] = {}
        self.previews: dict[str, Preview] = {}
        self.notes: dict[str, str] = {}
        self.upstreams: dict[str, list[str]] = {}
        self.placeholders: set[str] = set()  # nodes whose outputs are (or may hold) placeholders

    def fed_placeholders(self, nid: str) -> bool:
        return any(u in self.placeholders for u in self.upstreams.get(nid, ()))

    async def run(self, block: type[Block], input: BaseModel, ctx: BlockContext, emit: Emit) -> None:  # noqa: A002
        nid = ctx.node_id
        effect = self.effects[nid] = block.effect_for(input)
        if effect == Effect.NONE or (effect == Effect.READ and self.live_reads):
            self.actions[nid] = "ran"
            if not self.fed_placeholders(nid):
                await self.inner.run(block, input, ctx, emit)
                return
            self.placeholders.add(nid)
            try:
                await self.inner.run(block, input, ctx, emit)
                return
            except Exception as e:
                self.actions[nid] = "stubbed"
                self.notes[nid] = f"could not run on placeholder input ({type(e).__name__}: {e})"
        elif effect == Effect.WRITE:
            self.actions[nid] = "previewed"
            self.previews[nid] = block().preview(input, ctx)
        else:
            self.actions[nid] = "stubbed"
        self.placeholders.add(nid)
        for port in block.output_names():
            emit(port, placeholder(nid, port, output_shape(block, port)))


class _DryRun(WorkflowRun):
    executor: DryRunExecutor

    def _edge_value(self, pn: PlannedNode, port: str, wires: list[Wire]) -> Any:
        """A placeholder that cannot convert to the input's type becomes that type's placeholder."""
        try:
            return super()._edge_value(pn, port, wires)
        except ConversionError:
            stubbed = [w for w in wires if w.source in self.executor.placeholders]
            if not stubbed:
                raise
            return placeholder(stubbed[0].source, stubbed[0].source_port, input_shape(pn.block, port))

    def _read_ref(self, ref: FileRef) -> str:
        """A file a previewed write never created reads as a placeholder, not as an error."""
        try:
            return super()._read_ref(ref)
        except ConversionError:
            return f"<contents of {ref.path}: not written (dry run)>"


async def dry_run_workflow(
    workflow: Workflow,
    registry: BlockRegistry,
    settings: Settings,
    *,
    inputs: Any = (),
    source: str | None = None,
    live_reads: bool = False,
    ask_user: Callable[[str], str] | None = None,
) -> DryRunReport:
    """Validate (raising WorkflowValidationError), walk the graph without effects, report what would be sent."""
    run_inputs = inputs if isinstance(inputs, RunInputs) else split_inputs(inputs, workflow)
    plan = validate(workflow, registry, run_inputs, source or workflow.name)
    redactor = workspace_redactor(settings.workspace)
    executor = DryRunExecutor(live_reads=live_reads)
    executor.upstreams = {nid: pn.upstreams for nid, pn in plan.nodes.items()}
    with tempfile.TemporaryDirectory(prefix="autogpt-dry-run-") as tmp:
        log = RunLog.create(Path(tmp), redactor=redactor, parse=parse_workflow_event)
        try:
            result = await _DryRun(plan, settings, log, executor=executor, ask_user=ask_user).execute()
        finally:
            log.close()
    nodes = []
    for nid, r in result.nodes.items():
        action = executor.actions.get(nid)
        nodes.append(DryRunNode(
            node=nid, block=plan.nodes[nid].block.id, effect=executor.effects.get(nid), action=action,
            status=r.status, preview=executor.previews.get(nid), error=r.error, note=executor.notes.get(nid),
        ))
    report = DryRunReport(workflow=workflow.name, file=source, live_reads=live_reads,
                          status=COMPLETED if result.status == COMPLETED else result.status, nodes=nodes)
    return DryRunReport.model_validate(redactor.data(report.model_dump(mode="json")))
