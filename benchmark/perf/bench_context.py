"""Prompt tokens per cycle at step 10 and step 200 of a scripted run (should stay flat).

The scripted model cycles through realistic actions (writing files, reading them back, a search,
a large command output), so steps have short and long results. Tokens are counted with tiktoken
for gpt-4o-mini (the ScriptedModel is named after it, so the agent's own budget logic uses the
same tokenizer), for two windows: gpt-4o-mini's own (128k) and an 8k window like the embedded
model's. Summaries come from a scripted fast model.

    python benchmark/perf/bench_context.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

STEPS = 200


def main() -> None:
    from forge.agent import loop
    from forge.agent.agent import Agent, prompt_budget
    from forge.config import Settings
    from forge.models.env import setup_environment
    from forge.models.scripted import ScriptedModel, decision
    from forge.models.tokens import count_messages
    from forge.runs.log import read_events
    from forge.tools.base import ToolRegistry, tool

    setup_environment(None)

    @tool
    def run_report(n: int) -> str:
        """Print a long report.

        Args:
            n: Which report.
        """
        return "\n".join(f"row {n}.{i}: value={i * n % 97} status=ok latency={i % 13}ms" for i in range(400))

    @tool
    def note(text: str) -> str:
        """Write a short note.

        Args:
            text: The note.
        """
        return f"noted ({len(text)} chars)"

    def reply(messages):
        n = int(re.search(r"Step (\d+)\.", messages[-1]["content"]).group(1))
        if n % 3 == 0:
            return decision("run_report", f"check report {n}", n=n)
        return decision("note", f"record finding {n}", text=f"finding {n}: the value drifts by {n % 7}")

    for label, window in (("gpt-4o-mini window (128k)", None), ("8k window (like the embedded model)", 8192)):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(workspace=Path(tmp), _env_file=None, max_iterations=STEPS, stuck_repeats=10_000,
                                memory=False, max_context_tokens=window)
            model = ScriptedModel([reply], repeat_last=True, name="openai/gpt-4o-mini")
            fast = ScriptedModel([lambda m: "noted findings 1-8 and read two reports; values drift by 0-6"],
                                 repeat_last=True, name="openai/gpt-4o-mini")
            tools = ToolRegistry([run_report, note])
            agent = Agent.start("track the drifting values", settings, model, tools, summary_model=fast)
            t0 = time.perf_counter()
            loop.run(agent)
            elapsed = time.perf_counter() - t0
            sizes = [count_messages(model, m) for m in model.calls]
            budget = prompt_budget(model, tools, settings)
            summaries = sum(1 for e in read_events(agent.log.dir) if e["type"] == "history_summary")
            print(f"{label}: budget {budget} tokens")
            print(f"  prompt tokens at step 10: {sizes[9]}, at step 200: {sizes[199]}, max over 200 steps: "
                  f"{max(sizes)}")
            print(f"  summary calls: {summaries}; {elapsed / STEPS * 1000:.2f} ms per cycle incl. counting")


if __name__ == "__main__":
    main()
