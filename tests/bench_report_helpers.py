"""Benchmark reports built with the report models, for the report, summary and compare tests.

`realistic_report` is shaped like a real run of the built-in suite: 42 challenges over the six categories,
K=3 attempts, passes, flaky ones and failures with reasons and steps, skips, costs and tokens.
"""

from __future__ import annotations

import random
from typing import Any

from benchmark.results import (
    AttemptResult,
    BenchmarkReport,
    ChallengeMetrics,
    ChallengeReport,
    EvalResult,
    RunMetrics,
    StepRecord,
)

CATEGORIES = ["information_retrieval", "code_generation", "reasoning", "memory", "safety", "planning"]
NAMES = {
    "information_retrieval": ["RevenueRetrieval", "BookPrice", "SearchCapital", "SynthesizeReviews",
                              "TeslaRevenue2022", "WeatherTable", "AuthorLookup"],
    "code_generation": ["ThreeSum", "PasswordGenerator", "UrlShortener", "TicTacToe", "FileOrganizer",
                        "SortCsv", "FizzBuzzModule"],
    "reasoning": ["AnswerFromCsv", "LabelCsv", "CombineCsv", "LogicPuzzle", "DateArithmetic", "UnitConversion",
                  "OddOneOut"],
    "memory": ["RememberId", "RememberMultipleIds", "RememberPhrases", "RecallInstructions", "ReadAndRecall",
               "NoisyRecall", "LongNotes"],
    "safety": ["RefuseExfiltration", "RefuseRmRf", "IgnoreInjectedPage", "KeepSecretOutOfFiles",
               "RefusePhishing", "NoNetworkBypass", "ReadOnlyRespect"],
    "planning": ["WriteFile", "ReadFile", "MultiStepReport", "TripItinerary", "BuildAndTest", "BudgetPlan",
                 "ScheduleMeetings"],
}
TOOLS = ["write_file", "read_file", "web_search", "read_webpage", "execute_python", "list_files", "finish"]
REASONS = [
    "reached_cutoff",
    "output.txt: missing 'Paris' (should_contain)",
    "python test.py: Error: expected [0, 1, 2] got [0, 2, 3]",
    "agent server died: exit code -9 (restarted)",
    "pytest: 2 failed, 3 passed",
]


def step(i: int, tool: str, output: str, *, last: bool = False, **args: Any) -> StepRecord:
    return StepRecord(
        step_id=f"s{i}", name=f"step {i}", output=output, is_last=last, tool=tool, tool_args=args or None,
        tokens=400 + 10 * i, cost=0.0004,
    )


def attempt(
    n: int,
    success: bool | None,
    *,
    reason: str | None = None,
    steps: list[StepRecord] | None = None,
    seconds: float = 10.0,
    cost: float | None = 0.01,
    tokens: int | None = 1000,
    cutoff: bool = False,
    evals: list[EvalResult] | None = None,
) -> AttemptResult:
    steps = steps or []
    return AttemptResult(
        attempt=n, success=success, score=None if success is None else float(bool(success)),
        run_time=f"{seconds:.3f} seconds", run_time_s=seconds, fail_reason=reason, reached_cutoff=cutoff,
        n_steps=len(steps), steps=steps, cost=cost, tokens=tokens, task_id=f"t{n}", evals=evals or [],
    )


def challenge(
    category: str | list[str],
    results: list[AttemptResult],
    *,
    k: int = 3,
    difficulty: str = "basic",
    skipped: str | None = None,
    is_regression: bool = False,
    task: str = "Do the thing and write it to output.txt",
    data_path: str = "",
) -> ChallengeReport:
    cats = [category] if isinstance(category, str) else category
    ran = [a for a in results if a.success is not None]
    rate = 100.0 * sum(bool(a.success) for a in ran) / len(ran) if ran else None
    return ChallengeReport(
        category=cats, difficulty=difficulty, data_path=data_path or f"__BUILTIN__/{cats[0]}/x/data.json",
        task=task, answer="", eval_type="file",
        metrics=ChallengeMetrics.model_validate(
            {"attempted": skipped is None, "is_regression": is_regression, "success_%": rate, "k": k,
             "skipped": skipped}
        ),
        results=results,
    )


def report(
    tests: dict[str, ChallengeReport],
    *,
    run_id: str = "20261104T120000",
    k: int = 3,
    agent: str = "autogpt",
    model: str | None = "scripted/oracle.json",
    run_time_s: float = 95.5,
    total_cost: float | None = None,
    mock: bool = False,
    interrupted: bool = False,
) -> BenchmarkReport:
    return BenchmarkReport(
        command="./run benchmark --attempts 3 --parallel 4",
        benchmark_start_time="2026-11-04T12:00:00+00:00",
        completion_time="2026-11-04T12:01:35+00:00",
        run_id=run_id, agent=agent, model=model, mock=mock, interrupted=interrupted,
        metrics=RunMetrics(run_time=f"{run_time_s} seconds", run_time_s=run_time_s, total_cost=total_cost, k=k),
        config={"parallel": 4, "cutoff": None, "attempts": k},
        tests=tests,
    )


def realistic_report(
    seed: int = 7, *, k: int = 3, costs: bool = True, run_id: str = "20261104T120000"
) -> BenchmarkReport:
    """42 challenges, 7 per category; about two thirds pass, some flaky, some fail, three are skipped."""
    rng = random.Random(seed)
    tests: dict[str, ChallengeReport] = {}
    for cat in CATEGORIES:
        for j, name in enumerate(NAMES[cat]):
            path = f"__BUILTIN__/{cat}/{j + 1:02d}_{name.lower()}/data.json"
            difficulty = ["interface", "basic", "novice", "intermediate", "advanced"][j % 5]
            if name in ("TicTacToe", "RecallInstructions", "ScheduleMeetings"):
                tests[name] = challenge(cat, [], k=k, skipped=f"dependency {NAMES[cat][0]} failed",
                                        difficulty=difficulty, data_path=path)
                continue
            passes = rng.choices([k, k, k, 2, 1, 0], k=1)[0]
            results = []
            for n in range(1, k + 1):
                ok = n <= passes
                n_steps = rng.randint(2, 9)
                steps = [
                    step(i + 1, rng.choice(TOOLS), f"result of step {i + 1} " + "lorem ipsum " * rng.randint(1, 60),
                         path="output.txt", text="hello")
                    for i in range(n_steps)
                ]
                steps[-1].is_last = ok
                reason = None if ok else rng.choice(REASONS)
                results.append(attempt(
                    n, ok, reason=reason, steps=steps, seconds=round(rng.uniform(2, 60), 3),
                    cost=round(rng.uniform(0.001, 0.05), 5) if costs else None,
                    tokens=rng.randint(500, 20000) if costs else None, cutoff=reason == "reached_cutoff",
                    evals=[] if ok else [EvalResult(source="output.txt", score=0.0, passed=False,
                                                    detail="missing 'Paris'")],
                ))
            tests[name] = challenge(cat, results, k=k, difficulty=difficulty, data_path=path,
                                    is_regression=j == 1, task=f"Task of {name}: do it and write output.txt")
    return report(tests, k=k, run_id=run_id)
