"""Figures derived from a report.json: one outcome per challenge, per category and for the run.

The summary table, the HTML report and `compare` all read a run through these, so they agree on what
"passed" means. Rates are computed from the attempts themselves (not trusted from the runner's metrics),
which also makes agbenchmark's own report.json files readable. Rates are percentages (0..100).

A challenge with K attempts is `passed` when every evaluated attempt passed, `flaky` when some did,
`failed` when none did, `skipped` when nothing ran (a failed dependency, an interrupt). "Solved" (at least
one attempt passed) is what pass@K counts and what `compare` calls passing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from math import comb
from typing import Literal

from pydantic import BaseModel

from benchmark.results import AttemptResult, BenchmarkReport, ChallengeReport

Status = Literal["passed", "flaky", "failed", "skipped"]
_SECONDS = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator (Chen et al., 2021): P(at least one of k draws from n attempts,
    c of them correct, passes) = 1 - C(n-c, k) / C(n, k). k larger than n is clipped to n."""
    if n <= 0:
        return 0.0
    k = max(1, min(k, n))
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def parse_seconds(text: str | None) -> float | None:
    """agbenchmark writes durations as "12.345 seconds"."""
    if not text:
        return None
    m = _SECONDS.match(text)
    return float(m.group(1)) if m else None


def attempt_seconds(attempt: AttemptResult) -> float | None:
    return attempt.run_time_s if attempt.run_time_s is not None else parse_seconds(attempt.run_time)


def attempt_steps(attempt: AttemptResult) -> int:
    return attempt.n_steps or len(attempt.steps)


def attempt_ran(attempt: AttemptResult) -> bool:
    """An attempt counts when it was evaluated, or when it failed before evaluation (a dead server, a
    runner error): both say something about the agent. One with neither never started."""
    return attempt.success is not None or attempt.fail_reason is not None or attempt.reached_cutoff


def attempt_fail_reason(attempt: AttemptResult) -> str | None:
    """The runner's reason, else the first failing check's detail."""
    if attempt.success:
        return None
    if attempt.fail_reason:
        return attempt.fail_reason
    if attempt.reached_cutoff:
        return "reached_cutoff"
    for ev in attempt.evals:
        if not ev.passed:
            return f"{ev.source}: {ev.detail}" if ev.detail else f"{ev.source} failed"
    return None


def _sum(values: Iterable[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _mean(values: Iterable[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


class ChallengeOutcome(BaseModel):
    name: str
    category: str  # the first category: what charts colour by
    categories: list[str]
    difficulty: str | None = None
    data_path: str = ""
    task: str = ""
    status: Status
    k: int  # attempts asked for
    attempts: int  # attempts that ran
    passes: int
    success_rate: float | None = None  # % of the attempts that ran
    pass_at_1: float | None = None  # %
    pass_at_k: float | None = None  # %
    mean_steps: float | None = None
    mean_time_s: float | None = None
    total_time_s: float | None = None
    cost: float | None = None  # all attempts together
    mean_cost: float | None = None  # per attempt
    tokens: int | None = None
    fail_reason: str | None = None  # the first failing attempt's
    other_fail_reasons: int = 0  # how many more distinct reasons the other failing attempts gave
    skip_reason: str | None = None
    reached_cutoff: bool = False
    is_regression: bool = False  # the runner's flag: in the regression list (passed the last runs)

    @property
    def solved(self) -> bool:
        return self.passes > 0

    @property
    def ran(self) -> bool:
        return self.status != "skipped"


def challenge_outcome(name: str, report: ChallengeReport, k: int = 1) -> ChallengeOutcome:
    ran = [a for a in report.results if attempt_ran(a)]
    passes = sum(1 for a in ran if a.success)
    k = max(k, report.metrics.k, len(report.results), 1)
    reasons: list[str] = []
    for a in ran:
        reason = attempt_fail_reason(a)
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    status: Status
    if report.metrics.skipped is not None or not ran:
        status = "skipped"
    elif passes == len(ran):
        status = "passed"
    else:
        status = "flaky" if passes else "failed"
    skip_reason = report.metrics.skipped
    if status == "skipped" and skip_reason is None:
        skip_reason = "not attempted" if not report.metrics.attempted else "no attempt finished"
    n = len(ran)
    return ChallengeOutcome(
        name=name,
        category=report.category[0] if report.category else "uncategorised",
        categories=list(report.category) or ["uncategorised"],
        difficulty=report.difficulty,
        data_path=report.data_path,
        task=report.task,
        status=status,
        k=k,
        attempts=n,
        passes=passes,
        success_rate=100.0 * passes / n if n else None,
        pass_at_1=100.0 * pass_at_k(n, passes, 1) if n else None,
        pass_at_k=100.0 * pass_at_k(n, passes, k) if n else None,
        mean_steps=_mean(attempt_steps(a) for a in ran),
        mean_time_s=_mean(attempt_seconds(a) for a in ran),
        total_time_s=_sum(attempt_seconds(a) for a in ran),
        cost=_sum(a.cost for a in ran),
        mean_cost=_mean(a.cost for a in ran),
        tokens=int(t) if (t := _sum(a.tokens for a in ran)) is not None else None,
        fail_reason=reasons[0] if reasons and status != "passed" else None,
        other_fail_reasons=max(0, len(reasons) - 1) if status != "passed" else 0,
        skip_reason=skip_reason if status == "skipped" else None,
        reached_cutoff=any(a.reached_cutoff for a in ran),
        is_regression=report.metrics.is_regression,
    )


def outcomes(report: BenchmarkReport) -> list[ChallengeOutcome]:
    """One outcome per challenge, in suite order (category, then folder, then name)."""
    k = report.metrics.k
    found = [challenge_outcome(name, ch, k) for name, ch in report.tests.items()]
    return sorted(found, key=lambda o: (o.category, o.data_path, o.name))


class GroupStats(BaseModel):
    """Totals over a set of challenges: the whole run, or one category."""

    label: str
    challenges: int = 0
    ran: int = 0
    passed: int = 0  # every attempt passed
    flaky: int = 0
    failed: int = 0
    skipped: int = 0
    solved: int = 0  # at least one attempt passed (passed + flaky)
    pass_at_1: float | None = None  # %, mean over the challenges that ran
    pass_at_k: float | None = None  # %
    cost: float | None = None
    tokens: int | None = None
    time_s: float | None = None  # summed attempt time (the run's wall time is in RunStats)


def group_stats(label: str, items: list[ChallengeOutcome]) -> GroupStats:
    ran = [o for o in items if o.ran]
    return GroupStats(
        label=label,
        challenges=len(items),
        ran=len(ran),
        passed=sum(o.status == "passed" for o in items),
        flaky=sum(o.status == "flaky" for o in items),
        failed=sum(o.status == "failed" for o in items),
        skipped=sum(o.status == "skipped" for o in items),
        solved=sum(o.solved for o in items),
        pass_at_1=_mean(o.pass_at_1 for o in ran),
        pass_at_k=_mean(o.pass_at_k for o in ran),
        cost=_sum(o.cost for o in items),
        tokens=int(t) if (t := _sum(o.tokens for o in items)) is not None else None,
        time_s=_sum(o.total_time_s for o in items),
    )


def category_stats(items: list[ChallengeOutcome]) -> list[GroupStats]:
    """Per category, a challenge counting in each of its categories; sorted by name."""
    by_cat: dict[str, list[ChallengeOutcome]] = {}
    for o in items:
        for cat in o.categories:
            by_cat.setdefault(cat, []).append(o)
    return [group_stats(cat, by_cat[cat]) for cat in sorted(by_cat)]


class RunStats(GroupStats):
    k: int = 1
    run_time_s: float | None = None  # wall time of the whole run


def run_stats(report: BenchmarkReport, items: list[ChallengeOutcome] | None = None) -> RunStats:
    items = outcomes(report) if items is None else items
    base = group_stats("all", items)
    m = report.metrics
    run_time = m.run_time_s or parse_seconds(m.run_time)
    return RunStats(
        **base.model_dump(exclude={"cost", "tokens"}),
        # The runner's totals when it wrote them (they may include work outside the attempts).
        cost=m.total_cost if m.total_cost is not None else base.cost,
        tokens=m.total_tokens if m.total_tokens is not None else base.tokens,
        k=max([m.k, *(o.k for o in items)]),
        run_time_s=run_time,
    )


# Formatting shared by the terminal and HTML renderings ------------------------------------------


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} m {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} m"


def fmt_cost(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:.4f}" if abs(value) < 1 else f"${value:,.2f}"


def fmt_int(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_steps(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def clip(text: str | None, limit: int) -> str:
    """One line (newlines folded), at most LIMIT characters, with an ellipsis when clipped."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
