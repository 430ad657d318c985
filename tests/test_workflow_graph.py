"""Graph drawing (Mermaid, layered layout, SVG) and the cron scheduler, without the CLI."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from forge.blocks.registry import BlockRegistry
from forge.blocks.testing import TEST_BLOCKS
from forge.errors import ConfigError
from forge.workflow.graph import layout, statuses_of, to_html, to_mermaid, to_svg
from forge.workflow.model import parse_workflow
from forge.workflow.schedule import CronSchedule, run_on_schedule

DIAMOND = parse_workflow({"name": "diamond <&>", "nodes": [
    {"id": "a", "block": "branch"}, {"id": "b", "block": "noop"}, {"id": "c", "block": "echo"},
    {"id": "d", "block": "noop"}, {"id": "my node", "block": "noop"},
], "edges": [
    {"from": "a", "to": "b", "from_output": "true"},
    {"from": "a", "to": "c", "from_output": "false", "to_input": "text"},
    {"from": "b", "to": "d"}, {"from": "c", "to": "d", "from_output": "upper", "to_input": "value"},
]})


def test_mermaid_labels_and_port_annotations():
    text = to_mermaid(DIAMOND, BlockRegistry(TEST_BLOCKS))
    assert text.splitlines()[0] == "graph LR"
    assert '    a["a<br/>branch"]' in text and '    my_node["my node<br/>noop"]' in text
    assert "    a --> b" in text  # "true" is branch's default output: no label
    assert '    a -->|"false → text"| c' in text
    assert '    c -->|"upper → value"| d' in text
    coloured = to_mermaid(DIAMOND, None, {"a": "completed", "b": "failed"})
    assert "style a fill:#d3f9d8" in coloured and "style b fill:#ffc9c9" in coloured


def test_layout_puts_each_node_right_of_its_parents_without_overlap():
    nodes = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d")]
    pos = layout(nodes, edges)
    for s, t in edges:
        assert pos[s][0] < pos[t][0]
    assert len(set(pos.values())) == len(nodes)
    assert pos["b"][0] == pos["c"][0] and pos["b"][1] != pos["c"][1]


def test_layout_scales_to_a_long_chain():
    nodes = [str(i) for i in range(1000)]
    start = time.perf_counter()
    pos = layout(nodes, list(zip(nodes, nodes[1:], strict=False)))
    assert time.perf_counter() - start < 5
    assert pos["999"][0] > pos["0"][0]


def test_svg_and_html_are_self_contained_and_escaped():
    svg = to_svg(DIAMOND, statuses={"a": "completed"})
    assert svg.count('class="node"') == 5 and svg.count('class="edge"') == 4
    assert 'data-status="completed"' in svg
    page = to_html(DIAMOND, statuses={"a": "completed"}, run_id="r1")
    assert "<title>diamond &lt;&amp;&gt;</title>" in page and "<script" not in page
    assert "graph LR" in page and "r1" in page


def test_statuses_of_an_interrupted_run():
    state = {"status": "interrupted", "nodes": {"a": {"status": "completed"}, "b": {"status": "running"}}}
    assert statuses_of(state) == {"a": "completed", "b": "interrupted"}


def test_cron_schedule_with_seconds_and_timezone():
    sched = CronSchedule("*/2 * * * * *", "Asia/Shanghai")
    nxt = sched.next_after()
    assert nxt.tzinfo is not None and str(nxt.tzinfo) == "Asia/Shanghai"
    assert nxt.second % 2 == 0 and 0 < (nxt - datetime.now(nxt.tzinfo)).total_seconds() <= 2.01
    daily = CronSchedule("0 9 * * *", "Asia/Shanghai").next_after()
    assert (daily.hour, daily.minute) == (9, 0)
    with pytest.raises(ConfigError, match="minute field is 0-59"):
        CronSchedule("*/360 * * * *")


def test_run_on_schedule_runs_at_fire_times_up_to_max_runs():
    fired: list[float] = []

    async def job(n: int) -> None:
        fired.append(time.time())

    done = asyncio.run(run_on_schedule(CronSchedule("* * * * * *"), job, max_runs=2))
    assert done == 2 and len(fired) == 2
    assert fired[1] - fired[0] >= 0.9  # distinct whole seconds
