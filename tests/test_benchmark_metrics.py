"""pass@k, success spread, difficulty and the history's regression list, on fixed inputs."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from benchmark.history import History
from benchmark.metrics import challenge_metrics, highest_difficulty, pass_at_k, run_metrics, success_stderr
from benchmark.results import AttemptResult, BenchmarkReport, ChallengeMetrics, ChallengeReport, RunMetrics


def brute_force_pass_at_k(outcomes: list[bool], k: int) -> float:
    """The share of all k-subsets of the attempts that hold at least one success."""
    subsets = list(itertools.combinations(range(len(outcomes)), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_pass_at_k_matches_enumeration(n: int) -> None:
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(outcomes, k)), (n, c, k)


def test_pass_at_k_known_values() -> None:
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 3) == pytest.approx(1 - 1 / 10)  # C(3,3)/C(5,3)
    assert pass_at_k(3, 0, 3) == 0.0 and pass_at_k(3, 1, 3) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(0, 0, 1)
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)


def test_challenge_metrics_over_attempts() -> None:
    results = [AttemptResult(attempt=i, success=s) for i, s in enumerate([True, False, True, False], 1)]
    m = challenge_metrics(results, k=4)
    assert m.attempted and m.success_percentage == 50.0
    assert m.pass_at_1 == pytest.approx(0.5) and m.pass_at_k == 1.0 and m.k == 4
    assert m.success_rate_stderr == pytest.approx(success_stderr(4, 2)) == pytest.approx(0.25)
    skipped = challenge_metrics([], k=1, skipped="dependency failed: A")
    assert not skipped.attempted and skipped.success_percentage == 0.0
    # agbenchmark's key in the file
    assert '"success_%":50.0' in m.model_dump_json(by_alias=True)


def test_highest_difficulty_is_agbenchmarks_string() -> None:
    assert highest_difficulty(["basic", "intermediate", "interface"]) == "intermediate: 4"
    assert highest_difficulty(["made-up"]) == "No successful tests"


def _report(run_id: str, outcomes: dict[str, list[bool]], mock: bool = False) -> BenchmarkReport:
    tests = {
        name: ChallengeReport(category=["x"], data_path="d", task="t", metrics=ChallengeMetrics(attempted=True),
                              results=[AttemptResult(attempt=i, success=s) for i, s in enumerate(res, 1)])
        for name, res in outcomes.items()
    }
    return BenchmarkReport(command="c", benchmark_start_time="2026-12-02T10:00:00+00:00", run_id=run_id,
                           metrics=RunMetrics(run_time="1 seconds"), tests=tests, mock=mock)


def test_run_metrics_count_dependency_skips_as_failures_but_not_interrupts() -> None:
    ran = ChallengeReport(category=["x"], data_path="d", task="t", difficulty="basic",
                          metrics=challenge_metrics([AttemptResult(success=True)], 1),
                          results=[AttemptResult(success=True, cost=0.5, tokens=10)])
    dep = ChallengeReport(category=["x"], data_path="d", task="t",
                          metrics=challenge_metrics([], 1, skipped="dependency failed: A"))
    cut = ChallengeReport(category=["x"], data_path="d", task="t",
                          metrics=challenge_metrics([], 1, skipped="interrupted"))
    m = run_metrics({"a": ran, "b": dep, "c": cut}, 2.5, 1)
    assert m.success_percentage == 50.0 and m.pass_at_1 == 0.5
    assert m.total_cost == 0.5 and m.total_tokens == 10 and m.highest_difficulty == "basic: 2"
    assert m.run_time == "2.500 seconds"


def test_history_regression_needs_three_passing_runs(tmp_path: Path) -> None:
    history = History.load(tmp_path)
    history.record(_report("r1", {"A": [True], "B": [True, True]}))
    history.record(_report("r2", {"A": [True], "B": [True, False]}))
    history.record(_report("r3", {"A": [True], "B": [True, True]}))
    assert history.is_regression("A") and not history.is_regression("B")
    assert history.regression_tests == ["A"]
    history.record(_report("r4", {"A": [True]}, mock=True))  # mock runs say nothing about the agent
    assert len(history.challenges["A"]) == 3
    history.save(tmp_path)
    again = History.load(tmp_path)
    assert again.regression_tests == ["A"] and again.challenges["B"][1].success_rate == 0.5
    history.record(_report("r5", {"A": [False]}))
    assert not history.is_regression("A")


def test_damaged_history_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text("{not json")
    assert History.load(tmp_path).challenges == {}
    assert (tmp_path / "history.damaged.json").exists()
