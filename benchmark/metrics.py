"""Scores over attempts: pass@k (the unbiased estimator of Chen et al. 2021), success rate and its spread,
and the run's totals in agbenchmark's shape."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from benchmark.results import AttemptResult, ChallengeMetrics, ChallengeReport, RunMetrics
from benchmark.spec import DIFFICULTIES


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of K attempts drawn from N (C of them successful) succeeds:
    1 - C(n-c, k) / C(n, k)."""
    if n <= 0 or k <= 0:
        raise ValueError("pass@k needs n >= 1 attempts and k >= 1")
    if not 0 <= c <= n:
        raise ValueError("pass@k needs 0 <= c <= n")
    k = min(k, n)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def success_stderr(n: int, c: int) -> float:
    """Standard error of a success rate measured over N attempts: sqrt(p(1-p)/n)."""
    if n <= 0:
        return 0.0
    p = c / n
    return math.sqrt(p * (1 - p) / n)


def challenge_metrics(results: list[AttemptResult], k: int, *, skipped: str | None = None) -> ChallengeMetrics:
    """Per challenge: attempts that were evaluated or failed count; `success is None` ones (never run) do not."""
    done = [r for r in results if r.success is not None]
    if skipped is not None or not done:
        metrics = ChallengeMetrics(attempted=False, k=k, skipped=skipped)
        metrics.success_percentage = 0.0 if skipped else None
        return metrics
    n, c = len(done), sum(1 for r in done if r.success)
    metrics = ChallengeMetrics(
        attempted=True,
        pass_at_1=pass_at_k(n, c, 1),
        pass_at_k=pass_at_k(n, c, k),
        k=k,
        success_rate_stderr=round(success_stderr(n, c), 4),
    )
    # by attribute: the constructor takes agbenchmark's key, `success_%`
    metrics.success_percentage = round(100.0 * c / n, 2)
    return metrics


def highest_difficulty(passed: Iterable[str]) -> str:
    """agbenchmark's "<difficulty>: <level>" of the hardest difficulty passed (levels from 1)."""
    levels = [DIFFICULTIES.index(d) for d in passed if d in DIFFICULTIES]
    if not levels:
        return "No successful tests"
    best = max(levels)
    return f"{DIFFICULTIES[best]}: {best + 1}"


def run_metrics(tests: Mapping[str, ChallengeReport], run_time_s: float, k: int) -> RunMetrics:
    """Totals; success_% and pass@ are means over the challenges that ran or were skipped for a failed
    dependency (a skip counts as a failure); challenges an interrupt kept from running are left out."""
    scored = [t for t in tests.values() if t.metrics.attempted or (t.metrics.skipped or "").startswith("dependency")]
    attempts = [r for t in tests.values() for r in t.results]
    costs = [r.cost for r in attempts if r.cost is not None]
    tokens = [r.tokens for r in attempts if r.tokens is not None]

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    metrics = RunMetrics(
        run_time=f"{run_time_s:.3f} seconds",
        run_time_s=round(run_time_s, 3),
        highest_difficulty=highest_difficulty(
            t.difficulty or "" for t in tests.values() if any(r.success for r in t.results)
        ),
        total_cost=round(sum(costs), 6) if costs else None,
        total_tokens=sum(tokens) if tokens else None,
        pass_at_1=mean([t.metrics.pass_at_1 or 0.0 for t in scored]),
        pass_at_k=mean([t.metrics.pass_at_k or 0.0 for t in scored]),
        k=k,
    )
    metrics.success_percentage = mean([t.metrics.success_percentage or 0.0 for t in scored])
    return metrics
