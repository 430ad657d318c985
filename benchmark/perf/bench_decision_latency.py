"""The embedded model's decision latency per cycle: one-shot prompt (`single`) against staged decisions
(`staged`, the default for small models). Target (issue 11): staged no more than 1.5x slower per cycle.

Each goal runs once per strategy, back to back, so both see the same machine load. A cycle's decision
time is the time spent in the model's calls for that cycle (every stage and resample of a staged
decision; a retry after an invalid reply for the one-shot prompt); tools' own time is left out.

    python benchmark/perf/bench_decision_latency.py [--cycles 4] [--goals 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

GOALS = [
    "Write a haiku about the sea to haiku.txt",
    "Use Python to compute 17 * 23 and save the answer in answer.txt",
    "Copy notes.txt to backup.txt",
    "How many lines does notes.txt have? Write the number to lines.txt",
    "Create todo.md with three tasks for a picnic",
    "You have nothing to do. Finish immediately.",
]


class Timed:
    """A model whose calls are timed into a shared list (variants included)."""

    def __init__(self, model: Any, spent: list[float]):
        self._model, self._spent = model, spent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await self._model.complete(*args, **kwargs)
        finally:
            self._spent.append(time.perf_counter() - t0)

    def variant(self, **kwargs: Any) -> Timed:
        return Timed(self._model.variant(**kwargs), self._spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=4, help="Cycles per run at most.")
    parser.add_argument("--goals", type=int, default=len(GOALS))
    args = parser.parse_args()

    from forge.models.env import setup_environment

    setup_environment(None)
    from forge.agent import loop
    from forge.agent.agent import Agent
    from forge.config import Settings
    from forge.models import LLMOptions, get_model
    from forge.tools.base import ToolRegistry

    tools = ToolRegistry.from_plugins()
    per_cycle: dict[str, list[float]] = {"single": [], "staged": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(workspace=Path(tmp), _env_file=None, memory=False, max_iterations=args.cycles)
        model = get_model("local/smollm2", LLMOptions.from_settings(base))
        for i, goal in enumerate(GOALS[: args.goals]):
            for strategy in ("single", "staged"):
                settings = base.model_copy(update={"decision_strategy": strategy, "agent_name": f"{strategy}-{i}"})
                settings.agent_workspace().mkdir(parents=True, exist_ok=True)
                (settings.agent_workspace() / "notes.txt").write_text("buy milk\ncall Ada\nwater plants\n")
                spent: list[float] = []
                agent = Agent.start(goal, settings, Timed(model, spent), tools)
                outcome = loop.run(agent)
                cycles = max(outcome.steps, 1)
                per_cycle[strategy].append(sum(spent) / cycles)
                print(f"  {strategy:6} {goal[:48]:48} {cycles} cycles, {len(spent)} model calls, "
                      f"{sum(spent) / cycles:.2f} s per cycle ({outcome.status.value})", flush=True)
        model.close()
    single, staged = (statistics.median(per_cycle[s]) for s in ("single", "staged"))
    print(f"decision time per cycle, median over {len(per_cycle['single'])} goals: single {single:.2f} s, "
          f"staged {staged:.2f} s; staged/single = {staged / single:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
