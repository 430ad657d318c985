"""Workflow engine overhead, with events and state persisted exactly as in a real run.

- 1,000-node chain of noop blocks (each waits for the previous one): ms per node
- 1,000-node fan-out (one noop feeding 999 noops): ms per node
- 100 independent nodes sleeping 100 ms each, concurrency 100: total seconds

Targets: < 0.5 ms/node; < 0.2 s for the 100 sleeps.

    python benchmark/perf/bench_workflow_engine.py [--nodes 1000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from forge.blocks.registry import BlockRegistry  # noqa: E402
from forge.blocks.testing import TEST_BLOCKS  # noqa: E402
from forge.config import Settings  # noqa: E402
from forge.workflow.model import parse_workflow  # noqa: E402
from forge.workflow.runs import run_workflow  # noqa: E402


def chain(n: int) -> dict:
    nodes = [{"id": f"n{i}", "block": "noop", "config": {"value": i} if i == 0 else {}} for i in range(n)]
    return {"name": "chain", "nodes": nodes, "edges": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]}


def fan_out(n: int) -> dict:
    nodes = [{"id": f"n{i}", "block": "noop", "config": {"value": 1} if i == 0 else {}} for i in range(n)]
    return {"name": "fan-out", "nodes": nodes, "edges": [{"from": "n0", "to": f"n{i}"} for i in range(1, n)]}


def sleeps(n: int, seconds: float) -> dict:
    return {"name": "sleeps", "nodes": [{"id": f"s{i}", "block": "sleep", "config": {"seconds": seconds}}
                                        for i in range(n)], "edges": []}


def measure(data: dict, concurrency: int, repeat: int) -> tuple[float, float]:
    """(best wall seconds for the run itself, validation seconds) over `repeat` fresh workspaces."""
    registry = BlockRegistry(TEST_BLOCKS)
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(workspace=Path(tmp), _env_file=None)
            workflow = parse_workflow(data)
            start = time.perf_counter()
            result = asyncio.run(run_workflow(workflow, registry, settings, concurrency=concurrency))
            times.append(time.perf_counter() - start)
            assert result.status == "completed", result.counts()
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    n = args.nodes
    figures = {}
    for name, data in (("chain", chain(n)), ("fan_out", fan_out(n))):
        best, median = measure(data, 16, args.repeat)
        figures[name] = {"nodes": n, "seconds": round(best, 4), "ms_per_node": round(best * 1000 / n, 4),
                         "median_ms_per_node": round(median * 1000 / n, 4)}
    best, median = measure(sleeps(100, 0.1), 100, args.repeat)
    figures["sleep_100x100ms"] = {"seconds": round(best, 4), "median_seconds": round(median, 4)}
    if args.json:
        print(json.dumps(figures))
        return
    for name in ("chain", "fan_out"):
        f = figures[name]
        verdict = "ok" if f["ms_per_node"] < 0.5 else "OVER TARGET"
        print(f"{name:8} {n} noop nodes: {f['seconds']:.3f} s, {f['ms_per_node']:.3f} ms/node "
              f"(median {f['median_ms_per_node']:.3f}; target < 0.5) {verdict}")
    s = figures["sleep_100x100ms"]
    verdict = "ok" if s["seconds"] < 0.2 else "OVER TARGET"
    print(f"sleeps   100 x 100 ms, concurrency 100: {s['seconds']:.3f} s (median {s['median_seconds']:.3f}; "
          f"target < 0.2) {verdict}")


if __name__ == "__main__":
    main()
