"""Framework overhead per agent cycle, with the scripted model (so the LLM costs nothing).

Measures cycles 51-150 of a run: prompt build with a 50+ step history (fitted into the context
budget with token counts, old steps summarised by a scripted summary model), decision parse and
validation, tool call, the event log appended (each event reaches the OS before the call returns),
the state snapshot replaced atomically, and the default rich display rendering every event.
Target: < 1.2 ms per cycle.

    python benchmark/perf/bench_cycle_overhead.py
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rich.console import Console  # noqa: E402

from autogpt_cli.display import RichDisplay  # noqa: E402
from forge.agent import loop  # noqa: E402
from forge.agent.agent import Agent  # noqa: E402
from forge.config import Settings  # noqa: E402
from forge.models.scripted import ScriptedModel, decision  # noqa: E402
from forge.tools.base import ToolRegistry, tool  # noqa: E402

WARM_STEPS = 50
MEASURED = 100


@tool
def note(text: str) -> str:
    """Remember a note.

    Args:
        text: The note.
    """
    return f"noted {text}"


def main() -> None:
    registry = ToolRegistry.from_plugins()
    registry.register(note)
    script = [decision("note", f"thinking about step {i}", text=f"item {i}") for i in range(WARM_STEPS + MEASURED)]
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=Path(tmp), max_iterations=10_000, _env_file=None)
        sink = Console(file=io.StringIO(), width=100)
        # Old steps get summarised as the history grows: by a free scripted model, so the cost
        # measured is ours (prompt fitting, token counting, summary events), not an LLM's.
        summaries = ScriptedModel([lambda messages: "noted items"], repeat_last=True)
        agent = Agent.start("benchmark the loop", settings, ScriptedModel(script), registry,
                            listener=RichDisplay(sink), summary_model=summaries)
        for _ in range(WARM_STEPS):
            loop.step(agent)
        for _ in range(MEASURED):
            t0 = time.perf_counter()
            loop.step(agent)
            samples.append((time.perf_counter() - t0) * 1000)
        rendered = len(sink.file.getvalue())  # type: ignore[attr-defined]
    print(f"cycles measured: {MEASURED} (history {WARM_STEPS}..{WARM_STEPS + MEASURED} steps), "
          f"display output {rendered} chars")
    print(f"per-cycle overhead: mean {statistics.mean(samples):.3f} ms, median {statistics.median(samples):.3f} ms, "
          f"p95 {sorted(samples)[int(0.95 * len(samples))]:.3f} ms (target < 1.2 ms)")


if __name__ == "__main__":
    main()
