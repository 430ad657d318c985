"""Framework overhead per agent cycle, with the scripted model (so the LLM costs nothing).

Measures cycles 51-150 of a run: prompt build with a 50+ step history (fitted into the context
budget with token counts, old steps summarised by a scripted summary model), decision parse and
validation, tool call, the event log appended (each event reaches the OS before the call returns),
the state snapshot replaced atomically, and the default rich display rendering every event.
Then the peer, side by side in the same run: smolagents 1.26's `ToolCallingAgent` with its
default logging (to a discarded stdout), a fake model returning the same tool call, steps 51-150
timed between step callbacks. It persists nothing; we write every event to disk. smolagents lives
in its own venv under ~/.cache/autogpt-bench/smolagents (made once, from the package index).
Target: ours at or below the peer.

    python benchmark/perf/bench_cycle_overhead.py [--no-peer]
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rich.console import Console  # noqa: E402

from autogpt_cli.display import RichDisplay  # noqa: E402
from forge.agent.agent import AutoGPTAgent  # noqa: E402
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


async def measure() -> tuple[list[float], int]:
    registry = ToolRegistry.from_plugins()
    registry.register(note)
    script = [decision("note", f"thinking about step {i}", text=f"item {i}") for i in range(WARM_STEPS + MEASURED)]
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=Path(tmp), max_iterations=10_000)
        sink = Console(file=io.StringIO(), width=100)
        # Old steps get summarised as the history grows: by a free scripted model, so the cost
        # measured is ours (prompt fitting, token counting, summary events), not an LLM's.
        summaries = ScriptedModel([lambda messages: "noted items"], repeat_last=True)
        agent = AutoGPTAgent.start("benchmark the loop", settings, ScriptedModel(script), registry,
                                   listener=RichDisplay(sink), summary_model=summaries)
        for _ in range(WARM_STEPS):
            await agent.step()
        for _ in range(MEASURED):
            t0 = time.perf_counter()
            await agent.step()
            samples.append((time.perf_counter() - t0) * 1000)
        rendered = len(sink.file.getvalue())  # type: ignore[attr-defined]
    return samples, rendered


PEER_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autogpt-bench" / "smolagents"
PEER_SCRIPT = """
import contextlib, io, json, os, statistics, sys, time
from smolagents import Model, ToolCallingAgent, tool
from smolagents.models import ChatMessage, ChatMessageToolCall, ChatMessageToolCallFunction, TokenUsage

@tool
def note(text: str) -> str:
    \"\"\"Remember a note.

    Args:
        text: The note.
    \"\"\"
    return f"noted {text}"

class Scripted(Model):
    def __init__(self):
        super().__init__(model_id="scripted")
        self.i = 0

    def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kw):
        self.i += 1
        function = ChatMessageToolCallFunction(name="note", arguments={"text": f"item {self.i}"})
        call = ChatMessageToolCall(id=f"c{self.i}", type="function", function=function)
        return ChatMessage(role="assistant", content=f"thinking about step {self.i}", tool_calls=[call],
                           token_usage=TokenUsage(input_tokens=0, output_tokens=0))

stamps = []
agent = ToolCallingAgent(tools=[note], model=Scripted(), max_steps=WARM + MEASURED + 1,
                         step_callbacks=[lambda step, agent=None: stamps.append(time.perf_counter())])
with contextlib.redirect_stdout(open(os.devnull, "w")):
    agent.run("benchmark the loop")
deltas = [(b - a) * 1000 for a, b in zip(stamps[WARM - 1:], stamps[WARM:WARM + MEASURED])]
print(json.dumps(deltas))
"""


def peer_samples() -> list[float] | None:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"making the peer's venv in {PEER_VENV} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "smolagents==1.26.0"], check=True)
    script = PEER_SCRIPT.replace("WARM", str(WARM_STEPS)).replace("MEASURED", str(MEASURED))
    with tempfile.TemporaryDirectory() as tmp:  # smolagents' @tool reads the tool's source file
        path = Path(tmp) / "peer.py"
        path.write_text(script)
        out = subprocess.run([str(python), str(path)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        print("peer failed:", out.stderr.strip().splitlines()[-1:] or out.returncode)
        return None
    return [float(x) for x in __import__("json").loads(out.stdout.strip().splitlines()[-1])]


def describe(samples: list[float]) -> str:
    return (f"mean {statistics.mean(samples):.3f} ms, median {statistics.median(samples):.3f} ms, "
            f"p95 {sorted(samples)[int(0.95 * len(samples))]:.3f} ms")


def main() -> None:
    samples, rendered = asyncio.run(measure())
    print(f"cycles measured: {MEASURED} (history {WARM_STEPS}..{WARM_STEPS + MEASURED} steps), "
          f"display output {rendered} chars")
    print(f"ours (every event durable):      {describe(samples)}")
    if "--no-peer" in sys.argv:
        return
    peer = peer_samples()
    if peer:
        print(f"smolagents 1.26 ToolCallingAgent: {describe(peer)} (persists nothing)")
        print(f"ratio ours/peer (median): {statistics.median(samples) / statistics.median(peer):.2f} (target <= 1)")


if __name__ == "__main__":
    main()
