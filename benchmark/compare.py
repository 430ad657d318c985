"""Comparing two benchmark runs, finding runs by reference, and the per-challenge history across runs.

A run is a folder `reports/<run_id>/` holding `report.json`. Run ids are timestamps, so the folders sort
by name oldest first: `latest` is the last one, `latest~1` the one before it (as git counts).
A challenge "passes" in a comparison when at least one attempt passed (what pass@K counts); a challenge
that passes in both runs with fewer attempts passing in B is listed as less reliable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError, computed_field
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from benchmark.outcomes import (
    ChallengeOutcome,
    GroupStats,
    category_stats,
    clip,
    fmt_cost,
    fmt_int,
    fmt_pct,
    fmt_seconds,
    outcomes,
    run_stats,
)
from benchmark.results import BenchmarkReport
from benchmark.spec import ChallengeError

REPORT_FILE = "report.json"
_LATEST = re.compile(r"^latest(?:~(\d+))?$")
# A challenge's results in earlier runs, oldest first: True solved, False failed, None skipped or absent.
# The same shape as agbenchmark's success_rate.json. Read-only where it is taken, so a dict of lists fits.
History = Mapping[str, Sequence[bool | None]]


class ReportError(ChallengeError):
    """A run that cannot be found or read; the message names the run and what to pass instead."""


# Finding runs ----------------------------------------------------------------------------------


def list_runs(reports_dir: Path) -> list[Path]:
    """Run folders (those holding a report.json) under REPORTS_DIR, oldest first."""
    if not reports_dir.is_dir():
        return []
    return sorted((p for p in reports_dir.iterdir() if (p / REPORT_FILE).is_file()), key=lambda p: p.name)


def read_report(path: Path) -> BenchmarkReport:
    """Load a report.json, or raise ReportError naming the file."""
    try:
        return BenchmarkReport.load(path)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file; pass a run folder holding report.json") from None
    except ValidationError as e:
        first = e.errors()[0]
        if first["type"] == "json_invalid":
            raise ReportError(f"{path}: not valid JSON; re-render the run or pick another one") from None
        where = ".".join(str(p) for p in first["loc"]) or "report"
        raise ReportError(f"{path}: not a benchmark report ({where}: {first['msg']}); pick another run") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read it ({e.strerror}); check the path") from None


def _how() -> str:
    return "pass a run id, a path to a run folder or report.json, latest or latest~N"


def resolve_run(reports_dir: Path, ref: str) -> Path:
    """The report.json a RUN reference names: `latest`, `latest~N`, a path to a run folder or a
    report.json, a run id (a folder name under REPORTS_DIR) or a unique prefix of one."""
    ref = ref.strip()
    if not ref:
        raise ReportError(f"empty run reference; {_how()}")
    if m := _LATEST.match(ref):
        runs = list_runs(reports_dir)
        if not runs:
            raise ReportError(f"no benchmark runs in {reports_dir}; run ./run benchmark first or {_how()}")
        back = int(m.group(1) or 0)
        if back >= len(runs):
            raise ReportError(
                f"{ref}: {reports_dir} holds only {len(runs)} run(s); use latest~0 to latest~{len(runs) - 1}"
            )
        return runs[-1 - back] / REPORT_FILE
    path = Path(ref).expanduser()
    for candidate in (path, reports_dir / ref):
        if candidate.is_file():
            return candidate
        if candidate.is_dir():
            if (candidate / REPORT_FILE).is_file():
                return candidate / REPORT_FILE
            raise ReportError(f"{candidate} holds no {REPORT_FILE}; {_how()}")
    runs = list_runs(reports_dir)
    matches = [p for p in runs if p.name.startswith(ref)]
    if len(matches) == 1:
        return matches[0] / REPORT_FILE
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:5])
        raise ReportError(f"run {ref!r} is ambiguous in {reports_dir} ({names}); give more of the run id")
    known = f" (newest: {', '.join(p.name for p in reversed(runs[-3:]))})" if runs else ""
    raise ReportError(f"no run {ref!r} in {reports_dir}{known}; {_how()}")


def load_run(reports_dir: Path, ref: str) -> BenchmarkReport:
    """The report a RUN reference names (see resolve_run); ReportError with a one-line fix otherwise."""
    return read_report(resolve_run(reports_dir, ref))


def run_history(reports_dir: Path, *, before: str | None = None, limit: int = 20) -> dict[str, list[bool | None]]:
    """Each challenge's outcome in the runs under REPORTS_DIR whose id sorts before BEFORE (all runs when
    None), at most LIMIT runs, oldest first. Runs that cannot be read are left out: an old damaged report
    must not stop today's from rendering. A challenge absent from a run gets None for it."""
    runs = [p for p in list_runs(reports_dir) if before is None or p.name < before][-limit:]
    reports: list[BenchmarkReport] = []
    for run in runs:
        try:
            reports.append(read_report(run / REPORT_FILE))
        except ReportError:
            continue
    history: dict[str, list[bool | None]] = {}
    for i, report in enumerate(reports):
        for o in outcomes(report):
            row = history.setdefault(o.name, [None] * i)
            row.append(None if not o.ran else o.solved)
        for row in history.values():
            row.extend([None] * (i + 1 - len(row)))
    return history


def regressions(items: list[ChallengeOutcome], history: History | None, runs: int = 3) -> list[str]:
    """Challenges not solved now that were solved in each of the last RUNS runs of HISTORY (agbenchmark's
    regression list), or that the runner itself flagged as regression tests."""
    found = []
    for o in items:
        if not o.ran or o.solved:
            continue
        past = list((history or {}).get(o.name, []))[-runs:]
        if o.is_regression or (len(past) == runs and all(p is True for p in past)):
            found.append(o.name)
    return found


# Comparing -------------------------------------------------------------------------------------


class Delta(BaseModel):
    a: float | None = None
    b: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


class RunInfo(BaseModel):
    run_id: str
    agent: str
    model: str | None = None
    start_time: str
    mock: bool = False
    interrupted: bool = False
    k: int = 1
    challenges: int = 0


class ChallengeChange(BaseModel):
    name: str
    category: str
    a: str  # "2/3", "skipped", "absent"
    b: str
    a_rate: float | None = None  # success rate %
    b_rate: float | None = None
    reason: str | None = None  # B's fail or skip reason


class CategoryDelta(BaseModel):
    category: str
    a_solved: int = 0
    a_ran: int = 0
    b_solved: int = 0
    b_ran: int = 0
    pass_at_1: Delta
    pass_at_k: Delta


class Comparison(BaseModel):
    a: RunInfo
    b: RunInfo
    regressed: list[ChallengeChange]  # passed in A, failed in B
    improved: list[ChallengeChange]  # failed in A, passed in B
    less_reliable: list[ChallengeChange]  # passed in both, a lower success rate in B
    more_reliable: list[ChallengeChange]
    still_failing: list[ChallengeChange]
    not_run: list[ChallengeChange]  # ran in A, skipped in B
    new: list[ChallengeChange]  # only in B
    removed: list[ChallengeChange]  # only in A
    still_passing: int  # passed in both with the same success rate
    solved: Delta  # % of the challenges that ran, solved
    pass_at_1: Delta
    pass_at_k: Delta
    cost: Delta
    tokens: Delta
    run_time_s: Delta
    categories: list[CategoryDelta]


def _info(report: BenchmarkReport, k: int, n: int) -> RunInfo:
    return RunInfo(
        run_id=report.run_id or report.benchmark_start_time,
        agent=report.agent,
        model=report.model,
        start_time=report.benchmark_start_time,
        mock=report.mock,
        interrupted=report.interrupted,
        k=k,
        challenges=n,
    )


def _tally(o: ChallengeOutcome | None) -> str:
    if o is None:
        return "absent"
    return "skipped" if not o.ran else f"{o.passes}/{o.attempts}"


def _change(name: str, a: ChallengeOutcome | None, b: ChallengeOutcome | None) -> ChallengeChange:
    either = b or a
    assert either is not None
    reason = None
    if b is not None:
        reason = b.skip_reason if not b.ran else b.fail_reason
    return ChallengeChange(
        name=name,
        category=either.category,
        a=_tally(a),
        b=_tally(b),
        a_rate=a.success_rate if a else None,
        b_rate=b.success_rate if b else None,
        reason=reason,
    )


def _solved_pct(s: GroupStats) -> float | None:
    return 100.0 * s.solved / s.ran if s.ran else None


def compare(a: BenchmarkReport, b: BenchmarkReport) -> Comparison:
    """What changed from run A to run B."""
    oa, ob = {o.name: o for o in outcomes(a)}, {o.name: o for o in outcomes(b)}
    sa, sb = run_stats(a, list(oa.values())), run_stats(b, list(ob.values()))
    lists: dict[str, list[ChallengeChange]] = {
        key: []
        for key in (
            "regressed", "improved", "less_reliable", "more_reliable", "still_failing", "not_run", "new", "removed"
        )
    }
    still_passing = 0
    for name in sorted(oa.keys() | ob.keys(), key=lambda n: ((ob.get(n) or oa[n]).category, n)):
        ca, cb = oa.get(name), ob.get(name)
        if ca is None or cb is None:
            lists["new" if ca is None else "removed"].append(_change(name, ca, cb))
            continue
        if not cb.ran:
            if ca.ran:
                lists["not_run"].append(_change(name, ca, cb))
            continue
        if not ca.ran:  # skipped in A: judge B on its own
            lists["improved" if cb.solved else "still_failing"].append(_change(name, ca, cb))
        elif ca.solved and not cb.solved:
            lists["regressed"].append(_change(name, ca, cb))
        elif not ca.solved and cb.solved:
            lists["improved"].append(_change(name, ca, cb))
        elif not ca.solved:
            lists["still_failing"].append(_change(name, ca, cb))
        elif (cb.success_rate or 0) < (ca.success_rate or 0):
            lists["less_reliable"].append(_change(name, ca, cb))
        elif (cb.success_rate or 0) > (ca.success_rate or 0):
            lists["more_reliable"].append(_change(name, ca, cb))
        else:
            still_passing += 1
    cats_a = {c.label: c for c in category_stats(list(oa.values()))}
    cats_b = {c.label: c for c in category_stats(list(ob.values()))}
    empty = GroupStats(label="")
    categories = []
    for cat in sorted(cats_a.keys() | cats_b.keys()):
        ga, gb = cats_a.get(cat, empty), cats_b.get(cat, empty)
        categories.append(
            CategoryDelta(
                category=cat,
                a_solved=ga.solved,
                a_ran=ga.ran,
                b_solved=gb.solved,
                b_ran=gb.ran,
                pass_at_1=Delta(a=ga.pass_at_1, b=gb.pass_at_1),
                pass_at_k=Delta(a=ga.pass_at_k, b=gb.pass_at_k),
            )
        )
    return Comparison(
        a=_info(a, sa.k, sa.challenges),
        b=_info(b, sb.k, sb.challenges),
        **lists,
        still_passing=still_passing,
        solved=Delta(a=_solved_pct(sa), b=_solved_pct(sb)),
        pass_at_1=Delta(a=sa.pass_at_1, b=sb.pass_at_1),
        pass_at_k=Delta(a=sa.pass_at_k, b=sb.pass_at_k),
        cost=Delta(a=sa.cost, b=sb.cost),
        tokens=Delta(a=sa.tokens, b=sb.tokens),
        run_time_s=Delta(a=sa.run_time_s, b=sb.run_time_s),
        categories=categories,
    )


# Rendering -------------------------------------------------------------------------------------


def _delta_text(d: Delta, fmt: str, higher_is_better: bool) -> Text:
    if d.delta is None:
        return Text("–", style="dim")
    value = d.delta
    if abs(value) < 1e-9:
        return Text("±0", style="dim")
    good = (value > 0) == higher_is_better
    sign = "+" if value > 0 else "-"
    body = {"pct": f"{abs(value):.1f} pts", "cost": fmt_cost(abs(value)), "int": fmt_int(abs(value)),
            "time": fmt_seconds(abs(value))}[fmt]
    return Text(f"{sign}{body}", style="green" if good else "red")


def _fmt(value: float | None, fmt: str) -> str:
    return {"pct": fmt_pct, "cost": fmt_cost, "int": fmt_int, "time": fmt_seconds}[fmt](value)


def _run_label(info: RunInfo) -> Text:
    text = Text(info.run_id, style="bold")
    who = info.agent + (f" ({info.model})" if info.model else "")
    text.append(f"  {who}  {info.challenges} challenges, K={info.k}")
    if info.mock:
        text.append("  mock", style="yellow")
    if info.interrupted:
        text.append("  interrupted", style="yellow")
    return text


def _changes_table(title: str, style: str, rows: list[ChallengeChange], with_reason: bool) -> Table:
    table = Table(title=Text(f"{title} ({len(rows)})", style=style), title_justify="left", show_edge=False)
    table.add_column("Challenge", no_wrap=True)
    table.add_column("Category", style="cyan", no_wrap=True)
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    if with_reason:
        table.add_column("Reason in B", overflow="fold", ratio=1)
    for r in rows:
        cells: list[Text | str] = [Text(r.name), Text(r.category), r.a, r.b]
        if with_reason:
            cells.append(Text(clip(r.reason, 90)))
        table.add_row(*cells)
    return table


def render_comparison(c: Comparison) -> RenderableType:
    """Both runs, the headline deltas, per category, then the challenges that changed (regressions first)."""
    parts: list[RenderableType] = [Text("A ").append_text(_run_label(c.a)), Text("B ").append_text(_run_label(c.b))]
    if c.a.k != c.b.k:
        parts.append(Text(f"The runs made different numbers of attempts (K={c.a.k} vs K={c.b.k}): "
                          "pass@K is not comparable, pass@1 is.", style="yellow"))
    metrics = Table(show_edge=False, title=Text("Overall", style="bold"), title_justify="left")
    for col, justify in (("", "left"), ("A", "right"), ("B", "right"), ("Change", "right")):
        metrics.add_column(col, justify=justify)  # type: ignore[arg-type]
    rows: list[tuple[str, Delta, str, bool]] = [
        ("challenges solved (any attempt)", c.solved, "pct", True),
        ("pass@1", c.pass_at_1, "pct", True),
        *([(f"pass@{c.b.k}" if c.a.k == c.b.k else "pass@K", c.pass_at_k, "pct", True)]
          if max(c.a.k, c.b.k) > 1 else []),  # with one attempt each, pass@K is pass@1
        ("cost", c.cost, "cost", False),
        ("tokens", c.tokens, "int", False),
        ("run time", c.run_time_s, "time", False),
    ]
    for label, d, fmt, better in rows:
        if d.a is None and d.b is None:
            continue
        metrics.add_row(label, _fmt(d.a, fmt), _fmt(d.b, fmt), _delta_text(d, fmt, better))
    parts.append(metrics)
    if c.categories:
        cats = Table(show_edge=False, title=Text("By category (pass@1)", style="bold"), title_justify="left")
        for col, justify in (("Category", "left"), ("A", "right"), ("B", "right"), ("Change", "right"),
                             ("Passed A", "right"), ("Passed B", "right")):
            cats.add_column(col, justify=justify)  # type: ignore[arg-type]
        for cd in c.categories:
            cats.add_row(
                Text(cd.category, style="cyan"), fmt_pct(cd.pass_at_1.a), fmt_pct(cd.pass_at_1.b),
                _delta_text(cd.pass_at_1, "pct", True), f"{cd.a_solved}/{cd.a_ran}", f"{cd.b_solved}/{cd.b_ran}",
            )
        parts.append(cats)
    if not c.regressed:
        parts.append(Text("No regressions: nothing that passed in A fails in B.", style="green"))
    sections = (
        ("Regressed: passed in A, fail in B", "bold red", c.regressed, True),
        ("Improved: failed in A, pass in B", "bold green", c.improved, False),
        ("Less reliable: fewer attempts pass in B", "yellow", c.less_reliable, True),
        ("More reliable", "green", c.more_reliable, False),
        ("Not run in B", "yellow", c.not_run, True),
        ("Still failing", "red", c.still_failing, True),
        ("New in B", "cyan", c.new, True),
        ("Removed in B", "dim", c.removed, False),
    )
    for title, style, items, with_reason in sections:
        if items:
            parts.append(_changes_table(title, style, items, with_reason))
    parts.append(Text(f"{c.still_passing} challenge(s) passed in both runs unchanged.", style="dim"))
    spaced: list[RenderableType] = []
    for part in parts:  # a blank line before each table
        if isinstance(part, Table) and spaced:
            spaced.append(Text(""))
        spaced.append(part)
    return Group(*spaced)
