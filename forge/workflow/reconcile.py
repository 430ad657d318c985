"""Resume with a corrected workflow: which completed nodes may keep their outputs.

A node's definition is its block (id and version), its config after `--input` overrides, the run
inputs it reads (user_input's name) and its incoming wires (source node and ports). A completed
node keeps its outputs only when its definition is unchanged and no upstream node re-runs: a
changed node re-runs, and so does everything downstream of it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from forge.errors import RunError
from forge.workflow.validate import Plan


def fingerprints(plan: Plan) -> dict[str, str]:
    """{node id: sha256 of its definition}."""
    result = {}
    for nid, pn in plan.nodes.items():
        definition = {
            "block": [pn.block.id, pn.block.version],
            "config": pn.config,
            "inputs": {name: plan.inputs.get(name) for name in pn.block.run_input_names(pn.config)},
            "wires": sorted([w.source, w.source_port, w.target_port] for w in pn.incoming),
        }
        text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        result[nid] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return result


def descendants(plan: Plan, roots: set[str]) -> set[str]:
    seen, work = set(roots), list(roots)
    while work:
        for child in plan.nodes[work.pop()].children:
            if child not in seen:
                seen.add(child)
                work.append(child)
    return seen


def changed_nodes(old: Plan | None, new: Plan) -> list[str]:
    """Nodes of `new` whose definition differs from `old` (all of them when the old plan is unknown)."""
    if old is None:
        return list(new.nodes)
    before, after = fingerprints(old), fingerprints(new)
    return [nid for nid in new.nodes if before.get(nid) != after[nid]]


def reusable(run_id: str, old: Plan | None, new: Plan, completed: set[str]) -> tuple[set[str], list[str]]:
    """(completed nodes that keep their outputs, changed nodes). RunError when the new file cannot
    be reconciled with the run: it shares no node with it, so it is another workflow."""
    if old is not None and not set(old.nodes) & set(new.nodes):
        raise RunError(f"the workflow file shares no node id with run {run_id}: it is another workflow; "
                       "start it with `autogpt workflow run FILE`")
    changed = changed_nodes(old, new)
    dirty = descendants(new, set(changed))
    return {nid for nid in completed if nid in new.nodes and nid not in dirty}, changed


def merged_inputs(previous: dict[str, Any], new: dict[str, Any], node_ids: set[str],
                  names: list[str]) -> dict[str, Any]:
    """The run's earlier `--input` values that still apply to the (new) workflow, then the new ones on top.
    An earlier override of a node that is gone, or a name no node reads any more, is dropped."""
    kept = {k: v for k, v in previous.items()
            if k in names or (k.partition(".")[1] and k.partition(".")[0] in node_ids)}
    return {**kept, **new}
