"""The embedded model driving the real agent: decision validity over 50 cycles (target 100%).

Runs the agent (continuous, all default tools, real sandbox) on a rotation of goals until 50
cycles have been made, and counts decisions that parsed and validated against the tool schemas.
Also reports seconds per cycle and which tools the model picked.

    python benchmark/perf/bench_embedded.py [--cycles 50]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

GOALS = [
    "Write a haiku about the sea to haiku.txt, then finish.",
    "List the files in your workspace and write their names to files.txt.",
    "Compute 17 * 23 with Python and save the answer in answer.txt.",
    "Create notes.md with three tips for writing clear code.",
    "Find the current Python version with the shell and report it.",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=50)
    args = parser.parse_args()

    from forge.models.env import setup_environment

    setup_environment(None)
    from forge.agent import loop
    from forge.agent.agent import Agent
    from forge.config import Settings
    from forge.models import LLMOptions, get_model
    from forge.runs.log import read_events
    from forge.tools.base import ToolRegistry

    tools = ToolRegistry.from_plugins()
    valid = invalid = 0
    picked: collections.Counter[str] = collections.Counter()
    endings: collections.Counter[str] = collections.Counter()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=Path(tmp), _env_file=None)
        model = get_model("local/smollm2", LLMOptions.from_settings(settings))
        i = 0
        while valid + invalid < args.cycles:
            settings.max_iterations = min(10, args.cycles - valid - invalid)
            agent = Agent.start(GOALS[i % len(GOALS)], settings, model, tools)
            outcome = loop.run(agent)
            endings[outcome.status.value] += 1
            for ev in read_events(agent.log.dir):
                if ev["type"] == "decision":
                    valid += 1
                    picked[ev["decision"]["tool"]] += 1
                elif ev["type"] == "invalid_decision":
                    invalid += 1
                    print(f"  invalid: {ev['error']}")
            i += 1
        model.close()
    elapsed = time.perf_counter() - t0
    total = valid + invalid
    print(f"cycles: {total} over {i} runs; valid decisions: {valid}/{total} = {100 * valid / total:.1f}% (target 100%)")
    print(f"time: {elapsed:.1f} s, {elapsed / total:.2f} s per cycle")
    print(f"tools picked: {dict(picked.most_common())}")
    print(f"run endings: {dict(endings)}")


if __name__ == "__main__":
    main()
