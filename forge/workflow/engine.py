"""The asyncio DAG engine: runs a validated Plan, records every step in the run's event log.

Rules (README "Workflows" describes them for users):
- A node runs once all its upstream nodes have finished. Ready nodes run in parallel, at most
  `concurrency` at a time.
- Data: a node's input is its config, then each live incoming edge's value on top (an edge value
  wins over config). Several live edges into one port deliver a list of their values, in the
  file's edge order (a fan-in: nothing is lost); one live edge delivers its value as is. Edge
  values are converted to the input's type first (convert.py); a value that cannot be fails the
  node with the edge named. Emitted pydantic models are stored as JSON data, as the log keeps them.
  A block may emit a port several times (streaming); every emission is a `node_output` event and
  downstream receives the last value.
- An edge is dead when its source did not complete or completed without emitting that port (a
  condition emits only the branch taken). A node whose upstream failed is `upstream_failed`;
  else a node whose incoming edges are all dead, or whose required input only dead edges could
  supply, is `skipped`. Both propagate to descendants only: independent branches finish.
- `timeout` fails an attempt; `retry` re-runs failed attempts after backoff * 2**attempt seconds.
  ConfigError from a block (e.g. missing credentials) is not retried: retrying cannot fix it.

Events: run_started, resumed, node_started, node_output, node_retry, node_finished, node_skipped,
interrupted, finished. events.jsonl is the source of truth; state.json is a throttled snapshot.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from forge.blocks.base import BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.filerefs import FileRef
from forge.blocks.files import read_text_in
from forge.config import Settings
from forge.errors import ConfigError, ToolError
from forge.events.models import NodeStatus
from forge.runs.log import RunLog
from forge.security.permissions import private_dir
from forge.workflow.cache import OutputCache, cache_key
from forge.workflow.convert import ConversionError, convert, input_shape, output_shape, tag_files
from forge.workflow.executors import Executor, InProcessExecutor
from forge.workflow.validate import Plan, PlannedNode, Wire

PENDING, RUNNING, COMPLETED = NodeStatus.PENDING, NodeStatus.RUNNING, NodeStatus.COMPLETED
FAILED, SKIPPED, UPSTREAM_FAILED = NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.UPSTREAM_FAILED
FINISHED = frozenset({COMPLETED, FAILED, SKIPPED, UPSTREAM_FAILED})
DEFAULT_CONCURRENCY = 16
STATE_INTERVAL_S = 0.25  # state.json is rewritten at most this often while running (and at the end)


@dataclass
class NodeResult:
    status: str = PENDING
    outputs: dict[str, Any] = field(default_factory=dict)  # last value per port
    error: str | None = None
    duration_s: float | None = None
    cached: bool = False
    attempts: int = 0
    replayed: bool = False  # completed in an earlier invocation of this run (resume)
    block_id: str = ""

    def snapshot(self) -> dict[str, Any]:
        return {"status": self.status, "outputs": self.outputs, "error": self.error, "duration_s": self.duration_s,
                "cached": self.cached, "attempts": self.attempts}


@dataclass
class RunResult:
    run_id: str
    status: str
    nodes: dict[str, NodeResult]

    def outputs(self) -> dict[str, dict[str, Any]]:
        """{node_id: {output: last value}} of every completed node: what `run --json` prints."""
        return {nid: dict(r.outputs) for nid, r in self.nodes.items() if r.status == COMPLETED}

    def counts(self) -> dict[str, int]:
        return count_statuses(r.status for r in self.nodes.values())

    def summary(self) -> dict[str, Any]:
        """The last line of `workflow run/resume --json`: run id, status, every node's status and error, outputs."""
        nodes = {nid: {"block": r.block_id, "status": str(r.status), "error": r.error, "duration_s": r.duration_s,
                       "attempts": r.attempts, "cached": r.cached, "replayed": r.replayed}
                 for nid, r in self.nodes.items()}
        return {"type": "result", "run_id": self.run_id, "status": str(self.status), "counts": self.counts(),
                "nodes": nodes, "outputs": self.outputs()}


def count_statuses(statuses: Any) -> dict[str, int]:
    counts: dict[str, int] = {str(s): 0 for s in (COMPLETED, FAILED, SKIPPED, UPSTREAM_FAILED)}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return counts


def _error_text(e: BaseException) -> str:
    if isinstance(e, ConfigError):
        return str(e)
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _input_error(e: ValidationError) -> str:
    parts = [f"input.{'.'.join(map(str, err['loc'])) or '?'}: {err['msg']}" for err in e.errors()]
    return "invalid input: " + "; ".join(parts)


class WorkflowRun:
    """One invocation of a run (the first, or a resume). `execute()` is the main loop."""

    def __init__(
        self,
        plan: Plan,
        settings: Settings,
        log: RunLog,
        *,
        executor: Executor | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: OutputCache | None = None,
        ask_user: Callable[[str], str] | None = None,
        replayed: dict[str, NodeResult] | None = None,
        state_extra: dict[str, Any] | None = None,
    ):
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}; fix --concurrency")
        self.plan = plan
        self.settings = settings
        self.log = log
        self.executor = executor or InProcessExecutor()
        self.concurrency = concurrency
        self.cache = cache
        self.ask_user = ask_user
        self.results: dict[str, NodeResult] = {nid: NodeResult() for nid in plan.nodes}
        self.results.update(replayed or {})
        for nid, r in self.results.items():
            r.block_id = plan.nodes[nid].block.id
        self.state_extra = dict(state_extra or {})
        self.files_dir = settings.workflows_dir() / "files"
        self.credentials = CredentialStore.for_workspace(settings.workspace)
        self._state_written = 0.0

    # Main loop ---------------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        private_dir(self.files_dir, root=self.settings.workspace)
        await self.executor.start()
        done: asyncio.Queue[str] = asyncio.Queue()
        ready: deque[str] = deque()
        running: dict[str, asyncio.Task[None]] = {}
        # Nodes not finished wait for this many upstream nodes; each finish decrements its children.
        self._waiting = {nid: sum(self.results[u].status not in FINISHED for u in pn.upstreams)
                         for nid, pn in self.plan.nodes.items() if self.results[nid].status not in FINISHED}
        self.write_state("running", force=True)
        self._release([nid for nid, n in self._waiting.items() if n == 0], ready)
        try:
            while ready or running:
                while ready and len(running) < self.concurrency:
                    nid = ready.popleft()
                    running[nid] = asyncio.create_task(self._run_node(nid, done))
                nid = await done.get()
                running.pop(nid)
                self._release([c for c in self.plan.nodes[nid].children if c in self._waiting
                               and self._decrement(c)], ready)
                self.write_state("running")
        except BaseException:  # Ctrl-C (cancellation) or a bug: leave a resumable record
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)
            for nid in running:
                self.results[nid].status = PENDING
            self.log.append("interrupted", running=sorted(running))
            self.write_state("interrupted", force=True)
            raise
        status = FAILED if any(r.status == FAILED for r in self.results.values()) else COMPLETED
        result = RunResult(self.log.run_id, status, self.results)
        self.log.append("finished", status=status, counts=result.counts())
        self.write_state(status, force=True)
        return result

    def _decrement(self, nid: str) -> bool:
        self._waiting[nid] -= 1
        return self._waiting[nid] == 0

    def _release(self, nodes: list[str], ready: deque[str]) -> None:
        """Nodes whose upstreams all finished: queue them, or settle them as skipped/upstream_failed
        and keep settling their descendants (a worklist, not recursion: chains may be long)."""
        work = list(nodes)
        while work:
            nid = work.pop()
            del self._waiting[nid]
            verdict, reason = self._verdict(nid)
            if verdict == RUNNING:
                ready.append(nid)
                continue
            self.results[nid].status = verdict
            self.results[nid].error = reason
            self.log.append("node_skipped", node=nid, status=verdict, reason=reason)
            work.extend(c for c in self.plan.nodes[nid].children if c in self._waiting and self._decrement(c))

    def _verdict(self, nid: str) -> tuple[str, str]:
        pn = self.plan.nodes[nid]
        if not pn.incoming:
            return RUNNING, ""
        failed = [u for u in pn.upstreams if self.results[u].status in (FAILED, UPSTREAM_FAILED)]
        if failed:
            return UPSTREAM_FAILED, f"upstream {', '.join(failed)} failed"
        live = {w.target_port for w in pn.incoming if self._live(w.source, w.source_port)}
        if not live:
            why = [f"{w.source} {self.results[w.source].status}" if self.results[w.source].status != COMPLETED
                   else f"{w.source} did not emit {w.source_port!r}" for w in pn.incoming]
            return SKIPPED, "no live input: " + "; ".join(dict.fromkeys(why))
        missing = [name for name in pn.block.required_inputs() if name not in pn.config and name not in live]
        if missing:
            names = ", ".join(map(repr, missing))
            return SKIPPED, f"required input {names} not supplied (its upstream branch was not taken)"
        return RUNNING, ""

    def _live(self, source: str, port: str) -> bool:
        r = self.results[source]
        return r.status == COMPLETED and port in r.outputs

    # One node ------------------------------------------------------------------------------------
    async def _run_node(self, nid: str, done: asyncio.Queue[str]) -> None:
        try:
            await self._execute_node(nid)
        finally:
            done.put_nowait(nid)

    async def _execute_node(self, nid: str) -> None:
        pn = self.plan.nodes[nid]
        result = self.results[nid]
        result.status = RUNNING
        started = time.perf_counter()
        data = dict(pn.config)
        fan_in: dict[str, list[Wire]] = {}
        for w in pn.incoming:
            if self._live(w.source, w.source_port):
                fan_in.setdefault(w.target_port, []).append(w)
        try:
            for port, wires in fan_in.items():
                data[port] = self._edge_value(pn, port, wires)
            inp = pn.block.Input.model_validate(data)
        except (ConversionError, ValidationError) as e:
            self.log.append("node_started", node=nid, block=pn.block.id, attempt=1)
            reason = str(e) if isinstance(e, ConversionError) else _input_error(e)
            return self._finish(nid, FAILED, started, error=reason)
        key = cache_key(pn.block, inp) if self.cache is not None and pn.block.cacheable else None
        if key is not None and self.cache is not None and (hit := self.cache.get(key)) is not None:
            for name, value in hit:
                result.outputs[name] = value
                self.log.append("node_output", node=nid, output=name, value=value, cached=True)
            return self._finish(nid, COMPLETED, started, cached=True)
        error, emissions = await self._attempts(pn, inp, result)
        if error is not None:
            return self._finish(nid, FAILED, started, error=error)
        if key is not None and self.cache is not None:
            self.cache.put(key, pn.block, emissions, workflow=self.plan.workflow.name, node=nid)
        self._finish(nid, COMPLETED, started)

    def _edge_value(self, pn: PlannedNode, port: str, wires: list[Wire]) -> Any:
        """The value the live `wires` deliver to `port`, converted to the port's type."""
        values = [tag_files(self.results[w.source].outputs[w.source_port],
                            output_shape(self.plan.nodes[w.source].block, w.source_port)) for w in wires]
        try:
            return convert(values[0] if len(values) == 1 else values, input_shape(pn.block, port), self._read_ref)
        except ConversionError as e:
            noun = "edge" if len(wires) == 1 else "edges"
            sources = ", ".join(f"{w.source}.{w.source_port}" for w in wires)
            raise ConversionError(f"{noun} {sources} -> {pn.id}.{port}: {e}; connect a port of a matching type "
                                  "or convert the value first (e.g. with text_template or json_parse)") from None

    def _read_ref(self, ref: FileRef) -> str:
        """A file reference's text, for a text input: confined to the files folder, size-capped."""
        try:
            return read_text_in(self.files_dir, ref.path)
        except ToolError as e:
            raise ConversionError(f"cannot read file reference {ref.path!r}: {e}") from None

    async def _attempts(self, pn: PlannedNode, inp: BaseModel,
                        result: NodeResult) -> tuple[str | None, list[tuple[str, Any]]]:
        """Run the block up to 1 + retry.count times: (None, emissions) on success, else (last error, [])."""
        error = None
        for attempt in range(pn.retry.count + 1):
            result.attempts = attempt + 1
            result.outputs = {}
            emissions: list[tuple[str, Any]] = []
            self.log.append("node_started", node=pn.id, block=pn.block.id, attempt=attempt + 1)

            def emit(name: str, value: Any, _nid: str = pn.id, _out: list[tuple[str, Any]] = emissions) -> None:
                if isinstance(value, BaseModel):  # what the log, the cache and a resume will see
                    value = value.model_dump(mode="json")
                _out.append((name, value))
                result.outputs[name] = value
                self.log.append("node_output", node=_nid, output=name, value=value)

            ctx = BlockContext(workspace=self.files_dir, settings=self.settings, credentials=self.credentials,
                               run_id=self.log.run_id, node_id=pn.id, ask_user=self.ask_user,
                               extras={"inputs": self.plan.inputs, "attempt": attempt + 1})
            timer = asyncio.timeout(pn.timeout)
            try:
                async with timer:
                    await self.executor.run(pn.block, inp, ctx, emit)
                return None, emissions
            except TimeoutError as e:
                error = (f"timed out after {pn.timeout:g}s (node timeout); raise the node's timeout or speed up "
                         "the block" if timer.expired() else _error_text(e))
            except ConfigError as e:
                return str(e), []
            except Exception as e:
                error = _error_text(e)
            if attempt < pn.retry.count:
                delay = pn.retry.delay(attempt)
                self.log.append("node_retry", node=pn.id, attempt=attempt + 1, error=error, delay_s=delay)
                await asyncio.sleep(delay)
        return error, []

    def _finish(self, nid: str, status: str, started: float, *, error: str | None = None,
                cached: bool = False) -> None:
        r = self.results[nid]
        r.status, r.error, r.cached = status, error, cached
        r.duration_s = round(time.perf_counter() - started, 6)
        if status != COMPLETED:
            r.outputs = {}
        self.log.append("node_finished", node=nid, status=status, error=error, duration_s=r.duration_s,
                        cached=cached, attempts=r.attempts, outputs=r.outputs)

    # State snapshot --------------------------------------------------------------------------------
    def write_state(self, status: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._state_written < STATE_INTERVAL_S:
            return
        self._state_written = now
        self.log.write_state({
            **self.state_extra,
            "run_id": self.log.run_id,
            "kind": "workflow",
            "status": status,
            "pid": os.getpid(),
            "updated_at": time.time(),
            "counts": count_statuses(r.status for r in self.results.values()),
            "nodes": {nid: {"block": self.plan.nodes[nid].block.id, **r.snapshot()}
                      for nid, r in self.results.items()},
        })
