"""Validate a workflow against the block registry, completely, before anything runs.

Every problem is collected (the parser's structural ones such as a bad timeout, unknown block, bad
config with its field path, unknown port, edge to an unknown node, duplicate id, cycle, an edge
whose types can never convert, missing required input, bad cron) and raised together as one
WorkflowValidationError. The result is a Plan: resolved block classes, ports and adjacency, in
topological order, which is all the engine needs.
"""

from __future__ import annotations

import difflib
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from forge.blocks.base import Block
from forge.blocks.registry import BlockRegistry
from forge.errors import ConfigError
from forge.workflow.convert import can_convert, describe, fan_in_shape, input_shape, output_shape
from forge.workflow.model import TRIGGER_NODE, Node, Retry, Workflow, WorkflowValidationError
from forge.workflow.schedule import cron_problem, timezone_problem


@dataclass(frozen=True)
class Wire:
    """A resolved data edge: source node's output port feeds target node's input port."""

    source: str
    source_port: str
    target: str
    target_port: str
    edge: int = -1  # index in the file's edges, for messages


@dataclass
class PlannedNode:
    id: str
    block: type[Block]
    config: dict[str, Any]
    timeout: float | None
    retry: Retry
    incoming: list[Wire] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # distinct downstream node ids
    upstreams: list[str] = field(default_factory=list)  # distinct upstream node ids


@dataclass
class Plan:
    workflow: Workflow
    nodes: dict[str, PlannedNode]  # in topological order
    inputs: dict[str, Any]  # bare run inputs (for user_input blocks)

    @property
    def order(self) -> list[str]:
        return list(self.nodes)


@dataclass
class RunInputs:
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> field -> value
    values: dict[str, Any] = field(default_factory=dict)  # bare KEY -> value

    def as_dict(self) -> dict[str, Any]:
        flat = {f"{n}.{k}": v for n, fields in self.overrides.items() for k, v in fields.items()}
        return {**self.values, **flat}


def parse_value(text: str) -> Any:
    """`--input` values are JSON when they parse (numbers, lists, true), else the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def split_inputs(pairs: Iterable[str] | dict[str, Any], workflow: Workflow) -> RunInputs:
    """`node.field=value` overrides a node's config; a bare `KEY=value` feeds user_input blocks."""
    items: list[tuple[str, Any]]
    if isinstance(pairs, dict):
        items = list(pairs.items())
    else:
        items = []
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--input {pair!r} must look like KEY=VALUE or NODE.FIELD=VALUE")
            items.append((key.strip(), parse_value(value)))
    node_ids = {n.id for n in workflow.nodes}
    result = RunInputs()
    for key, value in items:
        node_id, dot, name = key.partition(".")
        if dot and node_id in node_ids and name:
            result.overrides.setdefault(node_id, {})[name] = value
        else:
            result.values[key] = value
    return result


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _ports(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def find_cycle(children: dict[str, list[str]]) -> list[str] | None:
    """One cycle as [a, b, c, a], found by iterative DFS (recursion would overflow on long chains)."""
    color: dict[str, int] = {}
    for root in children:
        if color.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                color[node] = 1
                path.append(node)
            kids = children.get(node, [])
            if i < len(kids):
                stack.append((node, i + 1))
                kid = kids[i]
                if color.get(kid) == 1:
                    return path[path.index(kid):] + [kid]
                if not color.get(kid):
                    stack.append((kid, 0))
            else:
                color[node] = 2
                path.pop()
    return None


def _config_errors(node: Node, path: str, block: type[Block], config: dict[str, Any], fed: set[str]) -> list[str]:
    """Schema errors of a node's config, ignoring fields edges will supply and missing fields
    (those are checked as "missing required input" with a better message)."""
    errors = []
    names = block.input_names()
    for key in config:
        if key not in names:
            errors.append(
                f"{path}.config.{key}: unknown field for block {block.id!r}{_suggest(key, names)}; "
                f"fields: {_ports(names)}"
            )
    try:
        block.Input.model_validate({k: v for k, v in config.items() if k in names})
    except ValidationError as e:
        for err in e.errors():
            loc = [str(x) for x in err["loc"]]
            # Skip what edges may still supply: their fields, and whole-model checks (e.g. "exactly
            # one of path or text") that cannot be judged from config alone.
            if err["type"] == "missing" or (loc and loc[0] in fed) or (not loc and fed):
                continue
            errors.append(f"{path}.config.{'.'.join(loc)}: {err['msg']}")
    return errors


def validate(workflow: Workflow, registry: BlockRegistry, inputs: RunInputs | None = None,
             source: str = "workflow") -> Plan:
    """Check everything; return the Plan or raise WorkflowValidationError with all problems."""
    inputs = inputs or RunInputs()
    errors: list[str] = list(workflow.problems)  # structural ones found while parsing
    index: dict[str, int] = {}
    blocks: dict[str, type[Block]] = {}
    for i, node in enumerate(workflow.nodes):
        if node.id == TRIGGER_NODE and workflow.trigger is not None:
            errors.append(f"nodes[{i}].id: {TRIGGER_NODE!r} is reserved for the trigger; rename the node")
        if node.id in index:
            errors.append(f"nodes[{i}].id: duplicate node id {node.id!r} (also nodes[{index[node.id]}]); rename one")
            continue
        index[node.id] = i
        if not node.block_id:
            continue  # its missing block_id is already among the parse problems
        block = registry.get(node.block_id)
        if block is None:
            close = registry.closest(node.block_id)
            hint = f"did you mean {', '.join(close)}?" if close else "see `autogpt workflow blocks`"
            errors.append(f"nodes[{i}].block_id: unknown block {node.block_id!r} on node {node.id!r}; {hint}")
        else:
            blocks[node.id] = block

    for node_id in inputs.overrides:
        if node_id in blocks:
            for key in inputs.overrides[node_id]:
                names = blocks[node_id].input_names()
                if key not in names:
                    errors.append(f"--input {node_id}.{key}: unknown field{_suggest(key, names)}; "
                                  f"fields: {_ports(names)}")
    errors.extend(_bare_input_errors(workflow, blocks, inputs))

    wires: list[Wire] = []
    for i, edge in enumerate(workflow.edges):
        path = f"edges[{i}]"
        if edge.source == TRIGGER_NODE and workflow.trigger is not None and TRIGGER_NODE not in index:
            if edge.target not in index:
                errors.append(f"{path}.to: unknown node {edge.target!r}{_suggest(edge.target, index)}")
            continue  # "start here": an ordering hint from the trigger, no data
        ok = True
        for end, node_id in (("from", edge.source), ("to", edge.target)):
            if node_id not in index:
                hint = _suggest(node_id, index)
                if node_id == TRIGGER_NODE and not hint:
                    hint = " (edges from 'trigger' need a top-level trigger)"
                errors.append(f"{path}.{end}: unknown node {node_id!r}{hint}")
                ok = False
        if not ok or edge.source not in blocks or edge.target not in blocks:
            continue
        src, dst = blocks[edge.source], blocks[edge.target]
        out_port = edge.from_output or src.default_output()
        in_port = edge.to_input or dst.default_input()
        if out_port not in src.output_names():
            errors.append(f"{path}.from_output: block {src.id!r} (node {edge.source!r}) has no output "
                          f"{out_port!r}{_suggest(str(out_port), src.output_names())}; "
                          f"outputs: {_ports(src.output_names())}")
            ok = False
        if in_port not in dst.input_names():
            errors.append(f"{path}.to_input: block {dst.id!r} (node {edge.target!r}) has no input "
                          f"{in_port!r}{_suggest(str(in_port), dst.input_names())}; "
                          f"inputs: {_ports(dst.input_names())}")
            ok = False
        if ok:
            wires.append(Wire(edge.source, str(out_port), edge.target, str(in_port), i))
    errors.extend(_type_errors(wires, blocks))

    children: dict[str, list[str]] = {n.id: [] for n in workflow.nodes}
    for w in wires:
        if w.target not in children[w.source]:
            children[w.source].append(w.target)
    if cycle := find_cycle(children):
        errors.append(f"cycle: {' -> '.join(cycle)}; remove one of these edges")

    fed: dict[str, set[str]] = {n: set() for n in index}
    for w in wires:
        fed[w.target].add(w.target_port)
    configs: dict[str, dict[str, Any]] = {}
    for node in workflow.nodes:
        if node.id not in blocks or node.id in configs:
            continue
        block, path = blocks[node.id], f"nodes[{index[node.id]}]"
        config = {**node.config, **inputs.overrides.get(node.id, {})}
        configs[node.id] = config
        errors.extend(_config_errors(node, path, block, config, fed[node.id]))
        for name in block.required_inputs():
            if name not in config and name not in fed[node.id]:
                errors.append(f"{path}: node {node.id!r} ({block.id}) is missing required input {name!r}; "
                              f"set config.{name}, connect an edge to it, or pass --input {node.id}.{name}=VALUE")

    if workflow.trigger is not None:
        errors.extend(_trigger_errors(workflow))
    if errors:
        raise WorkflowValidationError(errors, source)
    return _plan(workflow, blocks, configs, wires, children, inputs)


def run_input_names(workflow: Workflow, blocks: dict[str, type[Block]]) -> list[str]:
    """Bare `--input NAME=VALUE` names some node reads (user_input blocks' `name`)."""
    names: list[str] = []
    for node in workflow.nodes:
        if node.id in blocks:
            names.extend(n for n in blocks[node.id].run_input_names(node.config) if n not in names)
    return names


def _bare_input_errors(workflow: Workflow, blocks: dict[str, type[Block]], inputs: RunInputs) -> list[str]:
    """A bare `--input KEY=VALUE` that no node reads is a typo, not something to ignore silently."""
    if not inputs.values or len(blocks) < len({n.id for n in workflow.nodes}):
        return []  # unknown blocks are reported already; their names cannot be known
    names = run_input_names(workflow, blocks)
    node_ids = [n.id for n in workflow.nodes]
    errors = []
    for key in inputs.values:
        if key in names:
            continue
        node_id, dot, _field = key.partition(".")
        if dot:
            errors.append(f"--input {key}: unknown node {node_id!r}{_suggest(node_id, node_ids)}; "
                          f"nodes: {_ports(node_ids)}")
        else:
            known = f"; inputs: {_ports(names)}" if names else "; this workflow has no user_input block"
            errors.append(f"--input {key}: no node reads an input named {key!r}{_suggest(key, names)}{known} "
                          "(set a node's field with NODE.FIELD=VALUE)")
    return errors


def _type_errors(wires: list[Wire], blocks: dict[str, type[Block]]) -> list[str]:
    """Edges whose source type can never convert to the target input's type (convert.py's table).
    Several edges into one port deliver a list of their values, so that list is what is checked."""
    by_port: dict[tuple[str, str], list[Wire]] = {}
    for w in wires:
        by_port.setdefault((w.target, w.target_port), []).append(w)
    errors = []
    for (target, port), group in by_port.items():
        sources = [output_shape(blocks[w.source], w.source_port) for w in group]
        source = sources[0] if len(group) == 1 else fan_in_shape(sources)
        dest = input_shape(blocks[target], port)
        if can_convert(source, dest):
            continue
        where = ", ".join(f"edges[{w.edge}]" for w in group)
        names = ", ".join(f"{w.source}.{w.source_port}" for w in group)
        what = f"{describe(source)}" + (" (several edges deliver a list)" if len(group) > 1 else "")
        errors.append(f"{where}: {names} -> {target}.{port}: output type {what} can never convert to input "
                      f"type {describe(dest)}; connect a port of a matching type or convert it in between")
    return errors


def _trigger_errors(workflow: Workflow) -> list[str]:
    trigger = workflow.trigger
    assert trigger is not None
    if trigger.type != "schedule":
        return [f"trigger.type: unknown trigger {trigger.type!r}; the supported type is 'schedule'"]
    errors = []
    if problem := cron_problem(trigger.config.get("interval", trigger.config.get("cron"))):
        errors.append(f"trigger.config.interval: {problem}")
    if problem := timezone_problem(trigger.config.get("timezone")):
        errors.append(f"trigger.config.timezone: {problem}")
    return errors


def _plan(workflow: Workflow, blocks: dict[str, type[Block]], configs: dict[str, dict[str, Any]],
          wires: list[Wire], children: dict[str, list[str]], inputs: RunInputs) -> Plan:
    by_id = {n.id: n for n in workflow.nodes}
    indegree = {n: 0 for n in by_id}
    for kids in children.values():
        for k in kids:
            indegree[k] += 1
    # Kahn's algorithm in file order: deterministic, and the engine's tie-break order.
    queue = deque(n for n in by_id if indegree[n] == 0)
    order: list[str] = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for k in children[n]:
            indegree[k] -= 1
            if indegree[k] == 0:
                queue.append(k)
    planned = {
        nid: PlannedNode(nid, blocks[nid], configs[nid], by_id[nid].timeout, by_id[nid].retry,
                         children=list(children[nid]))
        for nid in order
    }
    for w in wires:
        p = planned[w.target]
        p.incoming.append(w)
        if w.source not in p.upstreams:
            p.upstreams.append(w.source)
    return Plan(workflow, planned, dict(inputs.values))
