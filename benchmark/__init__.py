"""`./run benchmark`: score any Agent Protocol agent on challenges (agbenchmark's format and Python tests).

    from benchmark import RunOptions, run_benchmark
    report = run_benchmark(RunOptions(tests=["WriteFile"], mock=True))

Names resolve on first use, so `import benchmark` stays cheap (the CLI's --help does not pay for httpx).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.client import AgentClient, AgentProtocolError, AgentUnreachableError, CutoffReachedError
    from benchmark.evaluate import evaluate, verdict
    from benchmark.metrics import pass_at_k
    from benchmark.python_tests import BaseTest, TestResult
    from benchmark.results import AttemptResult, BenchmarkReport, ChallengeReport, EvalResult
    from benchmark.runner import RunOptions, arun_benchmark, run_benchmark
    from benchmark.spec import Challenge, ChallengeError, discover_challenges, load_challenge

_EXPORTS = {
    "AgentClient": "client",
    "AgentProtocolError": "client",
    "AgentUnreachableError": "client",
    "CutoffReachedError": "client",
    "evaluate": "evaluate",
    "verdict": "evaluate",
    "pass_at_k": "metrics",
    "BaseTest": "python_tests",
    "TestResult": "python_tests",
    "AttemptResult": "results",
    "BenchmarkReport": "results",
    "ChallengeReport": "results",
    "EvalResult": "results",
    "RunOptions": "runner",
    "arun_benchmark": "runner",
    "run_benchmark": "runner",
    "Challenge": "spec",
    "ChallengeError": "spec",
    "discover_challenges": "spec",
    "load_challenge": "spec",
}
__all__ = [
    "AgentClient",
    "AgentProtocolError",
    "AgentUnreachableError",
    "arun_benchmark",
    "AttemptResult",
    "BaseTest",
    "BenchmarkReport",
    "Challenge",
    "ChallengeError",
    "ChallengeReport",
    "CutoffReachedError",
    "discover_challenges",
    "EvalResult",
    "evaluate",
    "load_challenge",
    "pass_at_k",
    "run_benchmark",
    "RunOptions",
    "TestResult",
    "verdict",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"benchmark.{module}"), name)
    globals()[name] = value
    return value
