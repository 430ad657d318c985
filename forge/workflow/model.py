"""The workflow file (docs/architecture.md, "Workflow file") as plain dataclasses, parsed with clear errors.

Structural problems (a node without an id, an edge without `to`, a bad timeout) are collected
here with their path into `Workflow.problems`, not raised: validate.py reports them together with
everything that needs the block registry (ports, schemas, types, cycles), so one bad field never
hides the others.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forge.errors import ConfigError

# Edges may start at this pseudo-node when the workflow has a trigger: "start here", no data.
TRIGGER_NODE = "trigger"


class WorkflowValidationError(ConfigError):
    """Every problem found in a workflow, one per line after a summary line."""

    def __init__(self, errors: list[str], source: str = "workflow"):
        self.errors = list(errors)
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"{source} is invalid ({len(errors)} {noun}):\n  " + "\n  ".join(self.errors))


@dataclass(frozen=True)
class Retry:
    count: int = 0
    backoff: float = 0.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based): exponential backoff."""
        return self.backoff * (2**attempt)


@dataclass
class Node:
    id: str
    block_id: str
    config: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    retry: Retry = field(default_factory=Retry)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    from_output: str | None = None
    to_input: str | None = None


@dataclass
class Trigger:
    type: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Workflow:
    name: str
    nodes: list[Node]
    edges: list[Edge]
    id: str | None = None
    description: str = ""
    trigger: Trigger | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    problems: list[str] = field(default_factory=list)  # found while parsing; validate() reports them

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


MAX_RETRIES = 100


def _number(value: Any, path: str, errors: list[str], *, minimum: float = 0, maximum: float = math.inf,
            integer: bool = False) -> float | None:
    if value is None:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
          and minimum <= value <= maximum and (not integer or float(value).is_integer()))
    if not ok:
        what = "a whole number" if integer else "a number"
        bounds = f">= {minimum:g}" + (f" and <= {maximum:g}" if math.isfinite(maximum) else "")
        errors.append(f"{path}: must be {what} {bounds}, got {json.dumps(value)}")
        return None
    return float(value)


def _parse_node(i: int, raw: Any, errors: list[str]) -> Node | None:
    path = f"nodes[{i}]"
    if not isinstance(raw, dict):
        errors.append(f"{path}: must be an object with id, block_id and config")
        return None
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not node_id:
        errors.append(f"{path}.id: missing; give every node a unique string id")
        return None
    block_id = raw.get("block_id", raw.get("block"))
    if not isinstance(block_id, str) or not block_id:
        errors.append(f"{path}.block_id: missing on node {node_id!r}; name the block (see `autogpt workflow blocks`)")
        block_id = ""  # the node stays, so edges to it are not also reported as unknown nodes
    config = raw.get("config", {}) or {}
    if not isinstance(config, dict):
        errors.append(f"{path}.config: must be an object of the block's input fields")
        config = {}
    timeout = _number(raw.get("timeout"), f"{path}.timeout", errors)
    retry = Retry()
    if (r := raw.get("retry")) is not None:
        if not isinstance(r, dict):
            errors.append(f'{path}.retry: must be an object like {{"count": 3, "backoff": 1}}')
        else:
            count = _number(r.get("count", 0), f"{path}.retry.count", errors, maximum=MAX_RETRIES, integer=True)
            backoff = _number(r.get("backoff", 0), f"{path}.retry.backoff", errors)
            retry = Retry(int(count or 0), backoff or 0.0)
    return Node(node_id, block_id, dict(config), timeout if timeout else None, retry)


def _parse_edge(i: int, raw: Any, errors: list[str]) -> Edge | None:
    path = f"edges[{i}]"
    if not isinstance(raw, dict):
        errors.append(f'{path}: must be an object like {{"from": "a", "to": "b"}}')
        return None
    ok = True
    for key in ("from", "to"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            errors.append(f"{path}.{key}: missing; name a node id")
            ok = False
    for key in ("from_output", "to_input"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            errors.append(f"{path}.{key}: must be a port name (string)")
            ok = False
    if not ok:
        return None
    return Edge(raw["from"], raw["to"], raw.get("from_output"), raw.get("to_input"))


def parse_workflow(data: Any, source: str = "workflow") -> Workflow:
    """Build a Workflow from decoded JSON. Structural problems are listed in `problems` (validate()
    raises them with everything else); only a top level that is not an object raises here."""
    if not isinstance(data, dict):
        raise WorkflowValidationError(["top level: must be a JSON object with name, nodes and edges"], source)
    errors: list[str] = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        name = Path(source).stem if source != "workflow" else "workflow"
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        errors.append("nodes: missing or empty; a workflow needs at least one node")
        raw_nodes = []
    raw_edges = data.get("edges", []) or []
    if not isinstance(raw_edges, list):
        errors.append("edges: must be a list")
        raw_edges = []
    nodes = [n for i, r in enumerate(raw_nodes) if (n := _parse_node(i, r, errors))]
    edges = [e for i, r in enumerate(raw_edges) if (e := _parse_edge(i, r, errors))]
    trigger = None
    if (t := data.get("trigger")) is not None:
        if not isinstance(t, dict) or not isinstance(t.get("type"), str):
            errors.append('trigger: must be an object like {"type": "schedule", "config": {"interval": "0 * * * *"}}')
        else:
            cfg = t.get("config") or {}
            if not isinstance(cfg, dict):
                errors.append("trigger.config: must be an object")
                cfg = {}
            trigger = Trigger(t["type"], dict(cfg))
    return Workflow(
        name=name, nodes=nodes, edges=edges, id=data.get("id"), description=str(data.get("description") or ""),
        trigger=trigger, raw=data, problems=errors,
    )


def load_workflow(path: Path) -> Workflow:
    """Read and parse a workflow file; a missing file or bad JSON is one line naming line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"workflow file {path} not found; check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read workflow file {path} ({e}); check the file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}; fix the file"
        ) from None
    return parse_workflow(data, str(path))
