"""Draw a workflow: Mermaid text, and an inline SVG from a layered layout computed here, so the HTML
page renders offline (no CDN, no JavaScript). Nodes may be coloured by a run's statuses.

Layout (Sugiyama-style, small): layer = longest path from a root; order within a layer by a few
barycenter sweeps to reduce crossings; edges are cubic curves from right side to left side.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from forge.blocks.registry import BlockRegistry
from forge.workflow.model import TRIGGER_NODE, Workflow

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 170, 52, 90, 26, 24
STATUS_COLORS = {
    "completed": "#d3f9d8", "failed": "#ffc9c9", "upstream_failed": "#ffe8cc", "skipped": "#e9ecef",
    "running": "#d0ebff", "pending": "#ffffff", "interrupted": "#fff3bf",
}
DEFAULT_FILL = "#f8f9fa"


@dataclass
class GraphEdge:
    source: str
    target: str
    label: str  # "out -> in" when a port is not the default, else ""


@dataclass
class GraphNode:
    id: str
    block: str
    trigger: bool = False


def _graph(workflow: Workflow, registry: BlockRegistry | None) -> tuple[list[GraphNode], list[GraphEdge]]:
    nodes = [GraphNode(n.id, n.block_id) for n in workflow.nodes]
    ids = {n.id for n in nodes}
    blocks = {n.id: n.block_id for n in workflow.nodes}
    edges: list[GraphEdge] = []
    for e in workflow.edges:
        if e.source == TRIGGER_NODE and e.source not in ids:
            if not any(n.trigger for n in nodes):
                cron = (workflow.trigger.config.get("interval", "") if workflow.trigger else "") or "trigger"
                nodes.insert(0, GraphNode(TRIGGER_NODE, str(cron), trigger=True))
            ids.add(TRIGGER_NODE)
        if e.source not in ids or e.target not in ids:
            continue  # drawn graphs of invalid files skip dangling edges; `validate` reports them
        label = ""
        if e.from_output or e.to_input:
            src = registry.get(blocks.get(e.source, "")) if registry else None
            dst = registry.get(blocks.get(e.target, "")) if registry else None
            out_default = src.default_output() if src else None
            in_default = dst.default_input() if dst else None
            out = e.from_output if e.from_output and e.from_output != out_default else ""
            inp = e.to_input if e.to_input and e.to_input != in_default else ""
            if out or inp:
                label = f"{out or out_default or '?'} → {inp or in_default or '?'}"
        edges.append(GraphEdge(e.source, e.target, label))
    return nodes, edges


def _mermaid_ids(nodes: list[GraphNode]) -> dict[str, str]:
    out: dict[str, str] = {}
    for n in nodes:
        base = re.sub(r"\W", "_", n.id) or "node"
        if base[0].isdigit():
            base = "n_" + base
        name, i = base, 1
        while name in out.values():
            i += 1
            name = f"{base}_{i}"
        out[n.id] = name
    return out


def _mermaid_text(s: str) -> str:
    return s.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(workflow: Workflow, registry: BlockRegistry | None = None,
               statuses: dict[str, str] | None = None) -> str:
    nodes, edges = _graph(workflow, registry)
    mid = _mermaid_ids(nodes)
    lines = ["graph LR"]
    for n in nodes:
        label = f"{_mermaid_text(n.id)}<br/>{_mermaid_text(n.block)}"
        lines.append(f'    {mid[n.id]}(("{label}"))' if n.trigger else f'    {mid[n.id]}["{label}"]')
    for e in edges:
        arrow = f' -->|"{_mermaid_text(e.label)}"| ' if e.label else " --> "
        lines.append(f"    {mid[e.source]}{arrow}{mid[e.target]}")
    for nid, status in (statuses or {}).items():
        if nid in mid and status in STATUS_COLORS:
            lines.append(f"    style {mid[nid]} fill:{STATUS_COLORS[status]}")
    return "\n".join(lines) + "\n"


def layout(nodes: list[str], edges: list[tuple[str, str]], sweeps: int = 4) -> dict[str, tuple[float, float]]:
    """Top-left corner of every node box: layers left to right, barycenter ordering inside layers."""
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t in edges:
        if s in parents and t in parents:
            children[s].append(t)
            parents[t].append(s)
    layer: dict[str, int] = {}
    indegree = {n: len(parents[n]) for n in nodes}
    queue = [n for n in nodes if indegree[n] == 0]
    while queue:  # Kahn order; nodes on a cycle (invalid file) fall back to layer 0
        n = queue.pop(0)
        layer.setdefault(n, 0)
        for c in children[n]:
            layer[c] = max(layer.get(c, 0), layer[n] + 1)
            indegree[c] -= 1
            if indegree[c] == 0:
                queue.append(c)
    for n in nodes:
        layer.setdefault(n, 0)
    layers: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for n in nodes:
        layers[layer[n]].append(n)
    pos = {n: float(i) for col in layers for i, n in enumerate(col)}
    for sweep in range(sweeps):
        cols = layers[1:] if sweep % 2 == 0 else list(reversed(layers[:-1]))
        for col in cols:
            near = parents if sweep % 2 == 0 else children
            bary = {n: (sum(pos[p] for p in near[n]) / len(near[n])) if near[n] else pos[n] for n in col}
            col.sort(key=lambda n: (bary[n], pos[n]))
            for i, n in enumerate(col):
                pos[n] = float(i)
    tallest = max(len(col) for col in layers) if layers else 0
    coords: dict[str, tuple[float, float]] = {}
    for li, col in enumerate(layers):
        offset = (tallest - len(col)) * (NODE_H + GAP_Y) / 2
        for i, n in enumerate(col):
            coords[n] = (MARGIN + li * (NODE_W + GAP_X), MARGIN + offset + i * (NODE_H + GAP_Y))
    return coords


def _clip(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(workflow: Workflow, registry: BlockRegistry | None = None,
           statuses: dict[str, str] | None = None) -> str:
    nodes, edges = _graph(workflow, registry)
    coords = layout([n.id for n in nodes], [(e.source, e.target) for e in edges])
    width = max((x for x, _ in coords.values()), default=0) + NODE_W + MARGIN
    height = max((y for _, y in coords.values()), default=0) + NODE_H + MARGIN
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{esc(workflow.name)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#495057"/></marker></defs>',
    ]
    for e in edges:
        (sx, sy), (tx, ty) = coords[e.source], coords[e.target]
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx, ty + NODE_H / 2
        dx = max((x2 - x1) / 2, 30)
        parts.append(f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1 + dx:.1f},{y1:.1f} {x2 - dx:.1f},{y2:.1f} '
                     f'{x2:.1f},{y2:.1f}" fill="none" stroke="#495057" stroke-width="1.4" marker-end="url(#arrow)">'
                     f"<title>{esc(e.source)} → {esc(e.target)}</title></path>")
        if e.label:
            parts.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 5:.1f}" text-anchor="middle" '
                         f'font-size="10" fill="#1c7ed6">{esc(_clip(e.label, 28))}</text>')
    for n in nodes:
        x, y = coords[n.id]
        status = (statuses or {}).get(n.id)
        fill = "#e7f5ff" if n.trigger else STATUS_COLORS.get(status or "", DEFAULT_FILL)
        rx = NODE_H / 2 if n.trigger else 8
        tip = f"{n.id} ({n.block})" + (f": {status}" if status else "")
        parts.append(
            f'<g class="node" data-id="{esc(n.id)}" data-status="{esc(status or "")}"><title>{esc(tip)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="{rx:.0f}" fill="{fill}" '
            f'stroke="#343a40" stroke-width="1.2"/>'
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 21:.1f}" text-anchor="middle" font-weight="600">'
            f"{esc(_clip(n.id))}</text>"
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 38:.1f}" text-anchor="middle" fill="#495057">'
            f"{esc(_clip(n.block + (f' · {status}' if status else ''), 26))}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def to_html(workflow: Workflow, registry: BlockRegistry | None = None,
            statuses: dict[str, str] | None = None, run_id: str | None = None) -> str:
    """A self-contained page: inline SVG (renders offline), a status legend, the Mermaid source."""
    esc = html.escape
    legend = ""
    if statuses:
        used = sorted(set(statuses.values()) & set(STATUS_COLORS))
        legend = "<p class='legend'>" + " ".join(
            f"<span style='background:{STATUS_COLORS[s]}'>{esc(s)}</span>" for s in used) + "</p>"
    subtitle = f"<p>{esc(workflow.description)}</p>" if workflow.description else ""
    run = f"<p>Run <code>{esc(run_id)}</code></p>" if run_id else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(workflow.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #212529; }}
.graph {{ overflow: auto; border: 1px solid #dee2e6; border-radius: 6px; padding: .5rem; }}
.legend span {{ padding: 2px 8px; margin-right: 6px; border: 1px solid #adb5bd; border-radius: 4px; }}
pre {{ background: #f1f3f5; padding: 1rem; overflow: auto; }}
</style></head>
<body>
<h1>{esc(workflow.name)}</h1>
{subtitle}{run}{legend}
<div class="graph">
{to_svg(workflow, registry, statuses)}</div>
<details><summary>Mermaid source</summary>
<pre class="mermaid-source">{esc(to_mermaid(workflow, registry, statuses))}</pre>
</details>
<p><small>{len(workflow.nodes)} nodes, {len(workflow.edges)} edges.
Rendered offline by autogpt workflow graph.</small></p>
</body></html>
"""


def statuses_of(state: dict[str, Any]) -> dict[str, str]:
    """Node statuses from a run's state.json (an interrupted run's running nodes read as interrupted)."""
    nodes = state.get("nodes") or {}
    out = {nid: str(n.get("status", "pending")) for nid, n in nodes.items() if isinstance(n, dict)}
    if state.get("status") == "interrupted":
        out = {k: ("interrupted" if v == "running" else v) for k, v in out.items()}
    return out
