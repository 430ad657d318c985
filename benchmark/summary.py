"""The end-of-run summary in the terminal: a one-line headline and a rich table, one row per challenge.

Agent output (fail reasons) is untrusted: it goes into rich `Text`, never into markup, so a reason like
"[red]" or "[/]" prints as written.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from benchmark.outcomes import (
    ChallengeOutcome,
    clip,
    fmt_cost,
    fmt_int,
    fmt_pct,
    fmt_seconds,
    fmt_steps,
    outcomes,
    run_stats,
)
from benchmark.results import BenchmarkReport

RESULT_STYLE = {"passed": "green", "flaky": "yellow", "failed": "red", "skipped": "dim"}
RESULT_MARK = {"passed": "✓ passed", "flaky": "~ flaky", "failed": "✗ failed", "skipped": "- skipped"}


def headline(report: BenchmarkReport) -> str:
    """One plain-text line (no rich markup, safe to print either way), e.g.
    `autogpt (scripted/oracle): 38/42 passed, 1 flaky, 2 failed, 1 skipped · pass@1 92.1% · pass@3 97.4% ·
    2 m 13 s · $0.1234 · 45,678 tokens · mock`."""
    s = run_stats(report)
    who = report.agent or "agent"
    if report.model:
        who += f" ({report.model})"
    if not s.challenges:
        counts = "no challenges"
    else:
        counts = f"{s.passed}/{s.challenges} passed"
        for n, label in ((s.flaky, "flaky"), (s.failed, "failed"), (s.skipped, "skipped")):
            if n:
                counts += f", {n} {label}"
    parts = [f"{who}: {counts}", f"pass@1 {fmt_pct(s.pass_at_1)}"]
    if s.k > 1:
        parts.append(f"pass@{s.k} {fmt_pct(s.pass_at_k)}")
    parts.append(fmt_seconds(s.run_time_s))
    if s.cost is not None:
        parts.append(fmt_cost(s.cost))
    if s.tokens is not None:
        parts.append(f"{fmt_int(s.tokens)} tokens")
    if report.mock:
        parts.append("mock")
    if report.interrupted:
        parts.append("interrupted: partial results")
    return " · ".join(parts)


def _reason(o: ChallengeOutcome) -> Text:
    if o.status == "skipped":
        return Text(clip(o.skip_reason, 70), style="dim")
    text = Text(clip(o.fail_reason, 70))
    if o.other_fail_reasons:
        text.append(f" (+{o.other_fail_reasons} more)", style="dim")
    return text


def summary_table(report: BenchmarkReport, *, title: str | None = None) -> Table:
    """Per challenge: result, attempts passed/run, steps (mean per attempt), time and cost (all attempts), the
    fail reason; then a totals row, which also gives pass@1/pass@K and the run's wall time."""
    items = outcomes(report)
    s = run_stats(report, items)
    any_cost = any(o.cost is not None for o in items) or s.cost is not None
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
    table.add_column("Challenge", no_wrap=True)
    table.add_column("Category", style="cyan", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Passed", justify="right")
    table.add_column("Steps", justify="right")
    table.add_column("Time", justify="right", no_wrap=True)
    if any_cost:
        table.add_column("Cost", justify="right")
    table.add_column("Fail reason", overflow="fold", ratio=1)
    for i, o in enumerate(items):
        name = Text(o.name)
        if o.is_regression and o.status in ("failed", "flaky"):
            name.append(" regression", style="bold red")
        row: list[Text | str] = [
            name,
            Text(o.category),
            Text(RESULT_MARK[o.status], style=RESULT_STYLE[o.status]),
            f"{o.passes}/{o.attempts}" if o.ran else "–",
            fmt_steps(o.mean_steps),
            fmt_seconds(o.total_time_s),
        ]
        if any_cost:
            row.append(fmt_cost(o.cost))
        row.append(_reason(o))
        table.add_row(*row, end_section=i == len(items) - 1)
    passes = sum(o.passes for o in items)
    attempts = sum(o.attempts for o in items)
    totals: list[Text | str] = [
        Text(f"Total ({s.challenges})", style="bold"),
        "",
        Text(f"{s.passed}/{s.challenges} passed", style="bold"),
        f"{passes}/{attempts}" if attempts else "–",
        fmt_steps(sum((o.mean_steps or 0) * o.attempts for o in items) / attempts) if attempts else "–",
        fmt_seconds(s.time_s),
    ]
    if any_cost:
        totals.append(fmt_cost(s.cost))
    k_part = f", pass@{s.k} {fmt_pct(s.pass_at_k)}" if s.k > 1 else ""
    totals.append(Text(f"pass@1 {fmt_pct(s.pass_at_1)}{k_part}; wall {fmt_seconds(s.run_time_s)}", style="bold"))
    table.add_row(*totals)
    return table
