"""Generation speed of the embedded model through our stack versus llama.cpp called directly.

    python benchmark/perf/bench_llm_throughput.py [--reps 5] [--max-tokens 200]

"ours" is the agent's path: LocalModel.complete (async, on a worker thread) ->
Llama.create_chat_completion. "raw" is Llama.create_chat_completion on the same loaded model with
the same messages, max_tokens and sampling (temperature 0, our repeat penalty).

Two workloads, each fair on its own terms:
  * text: no grammar on either side;
  * decision: both constrained by the same compiled decision-schema grammar (the agent's real call).
The prompt is identical on every call, so llama.cpp reuses its KV cache and the timing is dominated
by generation plus per-call overhead, which is what this compares. Calls alternate between the two
sides so background load affects both alike; medians of tokens/s are reported, after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from forge.agent.decision import decision_schema  # noqa: E402
from forge.agent.prompt import PromptBuilder  # noqa: E402
from forge.config import Settings  # noqa: E402
from forge.models import LLMOptions, run_sync  # noqa: E402
from forge.models.local import REPEAT_PENALTY, LocalModel, _grammar, get_local_llama  # noqa: E402
from forge.tools.base import ToolRegistry  # noqa: E402

GOAL = "Compute 17 * 23 with Python and save the answer in answer.txt."

TEXT_PROMPT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a long, detailed story about a robot who learns to paint."},
]


def timed(fn: Callable[[], tuple[int, str]]) -> tuple[float, int, str]:
    start = time.perf_counter()
    tokens, text = fn()
    return tokens / (time.perf_counter() - start), tokens, text


def compare(
    name: str, ours: Callable[[], tuple[int, str]], raw: Callable[[], tuple[int, str]], reps: int
) -> float:
    for fn in (ours, raw):  # warm-up: load, grammar compile, KV cache
        fn()
    ours_tps: list[float] = []
    raw_tps: list[float] = []
    for _ in range(reps):
        o_tps, o_tokens, o_text = timed(ours)
        r_tps, r_tokens, r_text = timed(raw)
        if o_text != r_text:
            raise SystemExit(f"{name}: outputs differ, so the comparison would not be fair")
        ours_tps.append(o_tps)
        raw_tps.append(r_tps)
    o_med, r_med = statistics.median(ours_tps), statistics.median(raw_tps)
    ratio = o_med / r_med
    print(
        f"{name:<9} {o_tokens:4} tokens/call  ours {o_med:6.1f} tok/s  raw {r_med:6.1f} tok/s  "
        f"ratio {ratio:6.1%}  (ranges: ours {min(ours_tps):.1f}-{max(ours_tps):.1f}, "
        f"raw {min(raw_tps):.1f}-{max(raw_tps):.1f})"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()

    settings = Settings(temperature=0.0, _env_file=None)
    options = LLMOptions.from_settings(settings)
    model = LocalModel("smollm2", LLMOptions(**{**vars(options), "max_tokens": args.max_tokens}))
    llama = get_local_llama(options)
    # the same sampling our provider uses, so both sides generate the same tokens
    raw_kwargs: dict[str, Any] = {"temperature": 0.0, "max_tokens": args.max_tokens, "repeat_penalty": REPEAT_PENALTY}
    tools = ToolRegistry.from_plugins()
    schema = decision_schema(tools)
    grammar = _grammar(json.dumps(schema))
    # the agent's real first prompt
    agent_messages = PromptBuilder.from_options(settings, tools, GOAL).messages([], 1, [])

    def ours_text() -> tuple[int, str]:
        r = run_sync(model.complete(TEXT_PROMPT))
        return r.usage.completion_tokens, r.content or ""

    def raw_text() -> tuple[int, str]:
        r: Any = llama.create_chat_completion(messages=TEXT_PROMPT, **raw_kwargs)
        return r["usage"]["completion_tokens"], r["choices"][0]["message"]["content"]

    def ours_decision() -> tuple[int, str]:
        r = run_sync(model.complete(agent_messages, decision_schema=schema))
        return r.usage.completion_tokens, r.content or ""

    def raw_decision() -> tuple[int, str]:
        r: Any = llama.create_chat_completion(messages=agent_messages, grammar=grammar, **raw_kwargs)
        return r["usage"]["completion_tokens"], r["choices"][0]["message"]["content"]

    print(
        f"model {model.name}, n_ctx {llama.n_ctx()}, threads {llama.context_params.n_threads}, "
        f"reps {args.reps}, max_tokens {args.max_tokens}"
    )
    ratios = [
        compare("text", ours_text, raw_text, args.reps),
        compare("decision", ours_decision, raw_decision, args.reps),
    ]
    worst = min(ratios)
    print(f"worst ratio {worst:.1%} (target >= 90%): {'OK' if worst >= 0.9 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
