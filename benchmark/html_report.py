"""`report.html`: one self-contained page per run that works offline.

No CDN, fonts or libraries: charts are SVG drawn here, styles and the small sorting/filtering script are
inline. Everything from the report is escaped (step outputs are the agent's, and untrusted), and the page's
Content-Security-Policy allows no network at all and no script but our own (by hash), so even a missed
escape could neither run code nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmark.compare import REPORT_FILE, History, ReportError, read_report, regressions, run_history
from benchmark.outcomes import (
    ChallengeOutcome,
    attempt_fail_reason,
    attempt_ran,
    attempt_seconds,
    attempt_steps,
    category_stats,
    clip,
    fmt_cost,
    fmt_int,
    fmt_pct,
    fmt_seconds,
    fmt_steps,
    outcomes,
    run_stats,
)
from benchmark.results import AttemptResult, BenchmarkReport, RunMetrics, StepRecord
from benchmark.spec import DIFFICULTIES

HTML_FILE = "report.html"
LAST_STEPS = 5  # steps shown for each failed attempt
FAILED_ATTEMPTS = 3  # failed attempts shown in full per challenge (the others by their reason)
TOP = 10  # rows in the slowest / most expensive tables

# Colours by category: the six built-in ones fixed, others from the rest of the palette in name order.
# No reds or greens here: those mean fail and pass.
CATEGORY_COLOURS = {
    "information_retrieval": "#4e79a7",
    "code_generation": "#76b7b2",
    "reasoning": "#b07aa1",
    "memory": "#9c755f",
    "safety": "#f28e2b",
    "planning": "#d4a017",
}
EXTRA_COLOURS = ("#7f7f7f", "#ff9da7", "#17becf", "#8c564b", "#bcbd22", "#393b79", "#e377c2", "#637939")


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def category_colours(categories: Iterable[str]) -> dict[str, str]:
    colours = dict(CATEGORY_COLOURS)
    extra = iter(EXTRA_COLOURS * 4)
    for cat in sorted(set(categories)):
        if cat not in colours:
            colours[cat] = next(extra, "#888888")
    return colours


def _anchor(prefix: str, name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe != name:  # keep ids of names that differ only in replaced characters apart
        safe += "-" + hashlib.sha1(name.encode()).hexdigest()[:6]
    return f"{prefix}-{safe}"


# Charts ----------------------------------------------------------------------------------------


class Bar:
    def __init__(self, label: str, value: float, colour: str, note: str, tip: str, href: str | None = None):
        self.label, self.value, self.colour, self.note, self.tip, self.href = label, value, colour, note, tip, href


def hbar_chart(bars: list[Bar], *, chart: str, width: int = 760, row_h: int = 20, columns: int = 1) -> str:
    """Horizontal bars of 0..100 %, each a `rect.bar`. With COLUMNS > 1 the bars are split (in order) over
    that many SVGs of WIDTH each, side by side where the page is wide enough and stacked where not."""
    if not bars:
        return '<p class="muted">Nothing to chart.</p>'
    per_col = math.ceil(len(bars) / columns)
    svgs = [_hbar_svg(bars[i : i + per_col], chart, width, row_h) for i in range(0, len(bars), per_col)]
    return svgs[0] if len(svgs) == 1 else f'<div class="bar-columns">{"".join(svgs)}</div>'


def _hbar_svg(bars: list[Bar], chart: str, width: int, row_h: int) -> str:
    label_w = min(230.0, width * 0.36)
    note_w = 112.0
    bar_w = width - label_w - note_w - 8
    height = len(bars) * row_h + 4
    out = [
        f'<svg class="chart {e(chart)}" data-chart="{e(chart)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{e(chart)} chart">'
    ]
    for row, bar in enumerate(bars):
        y = row * row_h + 2
        w = max(0.0, min(100.0, bar.value)) / 100 * bar_w
        label = clip(bar.label, int(label_w / 6.6))
        item = (
            f'<g class="row"><title>{e(bar.tip)}</title>'
            f'<text class="label" x="{label_w - 8:.1f}" y="{y + row_h * 0.68:.1f}" text-anchor="end">{e(label)}</text>'
            f'<rect class="track" x="{label_w:.1f}" y="{y + 3}" width="{bar_w:.1f}" height="{row_h - 6}" rx="2"/>'
            f'<rect class="bar" x="{label_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" rx="2" '
            f'fill="{e(bar.colour)}" data-value="{bar.value:.1f}"/>'
            f'<text class="note" x="{label_w + bar_w + 6:.1f}" y="{y + row_h * 0.68:.1f}">{e(bar.note)}</text>'
            "</g>"
        )
        out.append(f'<a href="#{e(bar.href)}">{item}</a>' if bar.href else item)
    out.append("</svg>")
    return "".join(out)


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * exp + 1e-12:
            return m * exp
    return 10 * exp


class Point:
    def __init__(self, x: float, y: float, status: str, tip: str, href: str | None = None):
        self.x, self.y, self.status, self.tip, self.href = x, y, status, tip, href


def scatter_chart(points: list[Point], *, chart: str, x_label: str, x_fmt: Callable[[float], str]) -> str:
    """Points against success rate (y, 0..100 %), each a `circle.point` classed by status."""
    width, height = 520, 300
    left, right, top, bottom = 52, 16, 12, 44
    pw, ph = width - left - right, height - top - bottom
    x_max = _nice_ceiling(max((p.x for p in points), default=1.0) * 1.05)
    out = [
        f'<svg class="chart {e(chart)}" data-chart="{e(chart)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{e(chart)} chart">'
    ]
    for i in range(5):  # y: every 25 %
        gy = top + ph - ph * i / 4
        out.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">{25 * i}%</text>')
    for i in range(6):  # x: fifths of a 1/2/2.5/5 ceiling are round numbers
        gx = left + pw * i / 5
        out.append(f'<line class="grid" x1="{gx:.1f}" x2="{gx:.1f}" y1="{top}" y2="{top + ph}"/>')
        out.append(
            f'<text class="tick" x="{gx:.1f}" y="{top + ph + 16}" text-anchor="middle">{e(x_fmt(x_max * i / 5))}</text>'
        )
    out.append(f'<text class="axis" x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{e(x_label)}</text>')
    out.append(
        f'<text class="axis" transform="translate(13 {top + ph / 2}) rotate(-90)" text-anchor="middle">'
        "success rate</text>"
    )
    for p in points:
        cx = left + pw * p.x / x_max
        cy = top + ph - ph * max(0.0, min(100.0, p.y)) / 100
        dot = (
            f'<circle class="point {e(p.status)}" cx="{cx:.1f}" cy="{cy:.1f}" r="5.5">'
            f"<title>{e(p.tip)}</title></circle>"
        )
        out.append(f'<a href="#{e(p.href)}">{dot}</a>' if p.href else dot)
    out.append("</svg>")
    return "".join(out)


# Sections --------------------------------------------------------------------------------------


def _when(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    zone = dt.strftime("%Z") if dt.tzinfo else ""
    return dt.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def _status_badge(status: str, text: str | None = None) -> str:
    return f'<span class="badge {e(status)}">{e(text or status)}</span>'


def _cat_chip(cat: str, colours: dict[str, str]) -> str:
    return f'<span class="chip"><i style="background:{e(colours.get(cat, "#888"))}"></i>{e(cat)}</span>'


def _kpi(label: str, value: str | None, sub: str = "", cls: str = "") -> str:
    shown = f'<div class="kpi-value">{e(value)}</div>' if value else '<div class="kpi-value na">not reported</div>'
    return (
        f'<div class="kpi {cls}"><div class="kpi-label">{e(label)}</div>{shown}'
        f'<div class="kpi-sub">{e(sub)}</div></div>'
    )


def _highest_difficulty(report: BenchmarkReport, items: list[ChallengeOutcome]) -> str:
    """The runner's figure; when it left agbenchmark's default, the hardest difficulty solved here."""
    given = report.metrics.highest_difficulty
    if given != RunMetrics.model_fields["highest_difficulty"].default:
        return given
    solved = [o.difficulty for o in items if o.solved and o.difficulty in DIFFICULTIES]
    return max(solved, key=DIFFICULTIES.index) if solved else given


def _header(report: BenchmarkReport, items: list[ChallengeOutcome]) -> str:
    s = run_stats(report, items)
    flags = []
    if report.mock:
        flags.append('<span class="flag mock" title="reference solutions uploaded; the agent did not run">mock</span>')
    if report.interrupted:
        flags.append('<span class="flag interrupted" title="stopped early: it holds what finished">interrupted</span>')
    who = report.agent or "agent"
    meta = [
        ("Agent", who),
        ("Model", report.model or "–"),
        ("Started", _when(report.benchmark_start_time)),
        ("Run time", fmt_seconds(s.run_time_s)),
        ("Attempts per challenge", str(s.k)),
        ("Highest difficulty passed", _highest_difficulty(report, items)),
    ]
    if report.run_id:
        meta.append(("Run", report.run_id))
    meta_html = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in meta)
    breakdown = ", ".join(
        f"{n} {label}" for n, label in ((s.flaky, "flaky"), (s.failed, "failed"), (s.skipped, "skipped")) if n
    )
    kpis = [
        _kpi("Challenges passed", f"{s.passed}/{s.challenges}" if s.challenges else "0",
             (breakdown or "all passed") if s.challenges else "no challenges"),
        _kpi("pass@1", fmt_pct(s.pass_at_1), f"over the {s.ran} that ran" if s.ran else "nothing ran"),
    ]
    if s.k > 1:
        kpis.append(_kpi(f"pass@{s.k}", fmt_pct(s.pass_at_k), f"{s.solved} solved at least once"))
    kpis.append(_kpi("Total cost", fmt_cost(s.cost) if s.cost is not None else None,
                     f"{fmt_cost(s.cost / s.ran)} per challenge" if s.cost is not None and s.ran else ""))
    kpis.append(_kpi("Tokens", fmt_int(s.tokens) if s.tokens is not None else None))
    kpis.append(_kpi("Run time", fmt_seconds(s.run_time_s),
                     f"{fmt_seconds(s.time_s)} in attempts" if s.time_s is not None else ""))
    return (
        f'<header><div class="title"><h1>Benchmark report</h1>{"".join(flags)}</div>'
        f'<p class="subtitle">{e(who)}{" · " + e(report.model) if report.model else ""}</p>'
        f'<dl class="meta">{meta_html}</dl><div class="kpis">{"".join(kpis)}</div></header>'
    )


def _regression_section(items: list[ChallengeOutcome], history: History | None) -> str:
    found = regressions(items, history)
    if found:
        links = ", ".join(f'<a href="#{e(_anchor("f", n))}">{e(n)}</a>' for n in found)
        return (
            f'<section id="regressions" class="alert bad"><h2>Regressions ({len(found)})</h2>'
            f"<p>These challenges passed in each of the last 3 runs (or are in the runner's regression list) and "
            f"failed in this one: {links}.</p></section>"
        )
    if history:
        return '<section id="regressions" class="alert good"><p>No regressions against the earlier runs.</p></section>'
    return ""


def _category_section(items: list[ChallengeOutcome], colours: dict[str, str]) -> str:
    bars = []
    for g in category_stats(items):
        note = f"{fmt_pct(g.pass_at_1)} · {g.solved}/{g.ran}"
        tip = (f"{g.label}: pass@1 {fmt_pct(g.pass_at_1)}; {g.passed} passed, {g.flaky} flaky, {g.failed} failed, "
               f"{g.skipped} skipped of {g.challenges}")
        bars.append(Bar(g.label, g.pass_at_1 or 0.0, colours.get(g.label, "#888"), note, tip))
    return (
        '<section id="categories" class="card"><h2>Success by category</h2>'
        '<p class="muted">pass@1 over the challenges that ran, then challenges solved at least once / run.</p>'
        f"{hbar_chart(bars, chart='categories', row_h=26)}</section>"
    )


def _challenge_rate_section(items: list[ChallengeOutcome], colours: dict[str, str]) -> str:
    ran = sorted((o for o in items if o.ran), key=lambda o: (-(o.success_rate or 0), o.category, o.name))
    bars = [
        Bar(
            o.name,
            o.success_rate or 0.0,
            colours.get(o.category, "#888"),
            f"{fmt_pct(o.success_rate).replace('.0%', '%')} · {o.passes}/{o.attempts}",
            f"{o.name} ({o.category}): {o.passes}/{o.attempts} attempts passed",
            _anchor("c", o.name),
        )
        for o in ran
    ]
    legend = "".join(_cat_chip(c, colours) for c in sorted({o.category for o in ran}))
    return (
        '<section id="challenges-chart" class="card"><h2>Pass rate per challenge</h2>'
        f'<div class="legend">{legend}</div>'
        f"{hbar_chart(bars, chart='challenges', width=540, columns=2 if len(bars) > 16 else 1, row_h=19)}</section>"
    )


def _scatter_section(items: list[ChallengeOutcome]) -> str:
    ran = [o for o in items if o.ran]

    def point(o: ChallengeOutcome, x: float, what: str) -> Point:
        tip = f"{o.name}: {what}; {o.passes}/{o.attempts} passed"
        return Point(x, o.success_rate or 0.0, o.status, tip, _anchor("c", o.name))

    costed = [point(o, o.mean_cost, f"{fmt_cost(o.mean_cost)} per attempt") for o in ran if o.mean_cost is not None]
    stepped = [point(o, o.mean_steps, f"{fmt_steps(o.mean_steps)} steps") for o in ran if o.mean_steps is not None]
    legend = (
        '<div class="legend"><span class="chip"><i class="dot passed"></i>passed</span>'
        '<span class="chip"><i class="dot flaky"></i>flaky</span>'
        '<span class="chip"><i class="dot failed"></i>failed</span></div>'
    )
    if costed:
        cost_chart = scatter_chart(costed, chart="cost-scatter", x_label="cost per attempt (USD)",
                                   x_fmt=lambda v: f"${v:.3g}")
    else:
        cost_chart = '<p class="muted empty">The agent reported no costs.</p>'
    steps_chart = (
        scatter_chart(stepped, chart="steps-scatter", x_label="steps per attempt (mean)", x_fmt=lambda v: f"{v:g}")
        if stepped
        else '<p class="muted empty">No challenge ran.</p>'
    )
    return (
        '<section id="scatter" class="grid2">'
        f'<div class="card"><h2>Cost against success</h2>{legend}{cost_chart}</div>'
        f'<div class="card"><h2>Steps against success</h2>{legend}{steps_chart}</div></section>'
    )


def _top_table(title: str, rows: list[ChallengeOutcome], value: Callable[[ChallengeOutcome], str], head: str,
               table_id: str) -> str:
    if not rows:
        body = '<p class="muted">Nothing to list.</p>'
    else:
        trs = "".join(
            f'<tr><td><a href="#{e(_anchor("c", o.name))}">{e(o.name)}</a></td><td>{e(o.category)}</td>'
            f'<td>{_status_badge(o.status)}</td><td class="num">{e(fmt_steps(o.mean_steps))}</td>'
            f'<td class="num strong">{e(value(o))}</td></tr>'
            for o in rows
        )
        body = (
            f'<table id="{table_id}"><thead><tr><th>Challenge</th><th>Category</th><th>Result</th>'
            f'<th class="num">Steps</th><th class="num">{e(head)}</th></tr></thead><tbody>{trs}</tbody></table>'
        )
    return f'<div class="card"><h2>{e(title)}</h2>{body}</div>'


def _tops_section(items: list[ChallengeOutcome]) -> str:
    timed = sorted((o for o in items if o.total_time_s is not None), key=lambda o: -(o.total_time_s or 0))[:TOP]
    costed = sorted((o for o in items if o.cost is not None), key=lambda o: -(o.cost or 0))[:TOP]
    slow = _top_table("Slowest challenges", timed, lambda o: fmt_seconds(o.total_time_s), "Time", "slowest")
    if costed:
        dear = _top_table("Most expensive challenges", costed, lambda o: fmt_cost(o.cost), "Cost", "costliest")
    else:
        dear = (
            '<div class="card"><h2>Most expensive challenges</h2>'
            '<p class="muted">The agent reported no costs.</p></div>'
        )
    return f'<section id="tops" class="grid2">{slow}{dear}</section>'


def _args_text(args: dict[str, Any] | None) -> str:
    if not args:
        return ""
    try:
        return json.dumps(args, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(args)


def _steps_table(attempt: AttemptResult) -> str:
    steps: list[StepRecord] = attempt.steps[-LAST_STEPS:]
    if not steps:
        return '<p class="muted">The runner recorded no steps for this attempt.</p>'
    first = len(attempt.steps) - len(steps) + 1
    rows = []
    for i, st in enumerate(steps):
        tool = st.tool or st.name or "–"
        output = st.output or ""
        clipped = output if len(output) <= 600 else output[:599] + "…"
        rows.append(
            f'<tr><td class="num">{first + i}{" (last)" if st.is_last else ""}</td><td><code>{e(tool)}</code></td>'
            f'<td><code class="args">{e(clip(_args_text(st.tool_args), 240))}</code></td>'
            f'<td><pre class="out">{e(clipped)}</pre></td></tr>'
        )
    shown = f"last {len(steps)} of {len(attempt.steps)}" if len(attempt.steps) > len(steps) else f"{len(steps)}"
    return (
        f'<table class="steps"><caption>Steps ({shown})</caption><thead><tr><th class="num">#</th><th>Tool</th>'
        f'<th>Arguments</th><th>Output</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _attempt_block(attempt: AttemptResult, k: int) -> str:
    reason = attempt_fail_reason(attempt) or "failed (no reason recorded)"
    facts = [f"{attempt_steps(attempt)} steps", fmt_seconds(attempt_seconds(attempt))]
    if attempt.cost is not None:
        facts.append(fmt_cost(attempt.cost))
    cutoff = ' <span class="badge failed">reached cutoff</span>' if attempt.reached_cutoff else ""
    failed_evals = [ev for ev in attempt.evals if not ev.passed]
    evals = ""
    if failed_evals:
        evals = '<ul class="evals">' + "".join(
            f"<li><code>{e(ev.source)}</code> scored {ev.score:.2f}: {e(clip(ev.detail, 400))}</li>"
            for ev in failed_evals
        ) + "</ul>"
    return (
        f'<div class="attempt"><h4>Attempt {attempt.attempt} of {k}{cutoff} <span class="muted">'
        f'{e(" · ".join(facts))}</span></h4><p class="reason">{e(clip(reason, 800))}</p>{evals}'
        f"{_steps_table(attempt)}</div>"
    )


def _more(attempts: list[AttemptResult]) -> str:
    if len(attempts) <= FAILED_ATTEMPTS:
        return ""
    rest = attempts[FAILED_ATTEMPTS:]
    reasons = "; ".join(f"attempt {a.attempt}: {clip(attempt_fail_reason(a), 100)}" for a in rest)
    return f'<p class="muted small">{len(rest)} more failing attempt(s): {e(reasons)}</p>'


def _failures_section(report: BenchmarkReport, items: list[ChallengeOutcome], colours: dict[str, str]) -> str:
    failing = [o for o in items if o.status in ("failed", "flaky")]
    if not failing:
        body = '<p class="muted">No failures.</p>' if any(o.ran for o in items) else '<p class="muted">Nothing ran.</p>'
        return f'<section id="failures" class="card"><h2>Failures</h2>{body}</section>'
    blocks = []
    for i, o in enumerate(failing):
        attempts = [a for a in report.tests[o.name].results if attempt_ran(a) and not a.success]
        more = f" (+{o.other_fail_reasons} more)" if o.other_fail_reasons else ""
        blocks.append(
            f'<details class="failure" id="{e(_anchor("f", o.name))}"{" open" if i == 0 else ""}><summary>'
            f'<span class="fname">{e(o.name)}</span>{_cat_chip(o.category, colours)}'
            f'{_status_badge(o.status, f"{o.passes}/{o.attempts} passed")}'
            f'<span class="freason">{e(clip(o.fail_reason, 140))}{e(more)}</span></summary>'
            f'<div class="task"><b>Task</b> <span class="muted">({e(o.difficulty or "no difficulty")})</span>'
            f"<pre>{e(clip(o.task, 1200))}</pre></div>"
            f'{"".join(_attempt_block(a, o.k) for a in attempts[:FAILED_ATTEMPTS])}{_more(attempts)}</details>'
        )
    return (
        f'<section id="failures" class="card"><h2>Failures ({len(failing)})</h2>'
        '<p class="muted">Each failing attempt: why it failed and the agent\'s last steps (outputs clipped).</p>'
        f'{"".join(blocks)}</section>'
    )


def _skipped_section(items: list[ChallengeOutcome]) -> str:
    skipped = [o for o in items if o.status == "skipped"]
    if not skipped:
        return ""
    rows = "".join(
        f"<tr><td>{e(o.name)}</td><td>{e(o.category)}</td><td>{e(o.skip_reason)}</td></tr>" for o in skipped
    )
    return (
        f'<section id="skipped" class="card"><h2>Skipped ({len(skipped)})</h2><table><thead><tr><th>Challenge</th>'
        f"<th>Category</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _history_cell(name: str, status: str, history: History) -> tuple[str, str]:
    past = list(history.get(name, []))[-10:]
    cells = "".join(
        f'<i class="h {"passed" if v else "failed" if v is False else "none"}"></i>' for v in past
    )
    now = {"skipped": "none"}.get(status, status)
    ran = [v for v in past if v is not None]
    rate = 100 * sum(1 for v in ran if v) / len(ran) if ran else -1
    tip = f"earlier runs: {sum(1 for v in ran if v)}/{len(ran)} passed" if ran else "no earlier runs"
    return f'<span class="hist" title="{e(tip)}">{cells}<i class="h now {now}"></i></span>', f"{rate:.1f}"


def _all_section(items: list[ChallengeOutcome], colours: dict[str, str], history: History | None) -> str:
    if not items:
        return (
            '<section id="all" class="card"><h2>All challenges</h2>'
            '<p class="muted">This run holds no challenges.</p></section>'
        )
    cats = sorted({c for o in items for c in o.categories})
    cat_opts = "".join(f'<option value="{e(c)}">{e(c)}</option>' for c in cats)
    rows = []
    for o in items:
        result = _status_badge(o.status)
        if o.status in ("failed", "flaky"):
            result = f'<a href="#{e(_anchor("f", o.name))}">{result}</a>'
        reason = o.skip_reason if o.status == "skipped" else o.fail_reason
        hist = ""
        if history is not None:
            cell, rate = _history_cell(o.name, o.status, history)
            hist = f'<td data-v="{rate}">{cell}</td>'
        rows.append(
            f'<tr id="{e(_anchor("c", o.name))}" data-name="{e(o.name.lower())}" '
            f'data-cats="{e("|".join(o.categories))}" data-status="{e(o.status)}"><td class="strong">{e(o.name)}</td>'
            f'<td>{_cat_chip(o.category, colours)}</td><td>{e(o.difficulty or "–")}</td><td>{result}</td>'
            f'<td class="num" data-v="{o.success_rate if o.success_rate is not None else -1}">'
            f'{f"{o.passes}/{o.attempts}" if o.ran else "–"}</td>'
            f'<td class="num" data-v="{o.mean_steps if o.mean_steps is not None else -1}">'
            f"{e(fmt_steps(o.mean_steps))}</td>"
            f'<td class="num" data-v="{o.total_time_s if o.total_time_s is not None else -1}">'
            f"{e(fmt_seconds(o.total_time_s))}</td>"
            f'<td class="num" data-v="{o.cost if o.cost is not None else -1}">{e(fmt_cost(o.cost))}</td>'
            f'<td class="num" data-v="{o.tokens if o.tokens is not None else -1}">{e(fmt_int(o.tokens))}</td>'
            f'{hist}<td class="reason-cell" title="{e(clip(reason, 600))}">{e(clip(reason, 160))}</td></tr>'
        )
    hist_head = '<th data-sort="num">History</th>' if history is not None else ""
    return (
        f'<section id="all" class="card"><h2>All challenges ({len(items)})</h2>'
        '<div class="filters">'
        '<input id="f-text" type="search" placeholder="Filter by name" aria-label="filter by name">'
        f'<select id="f-cat" aria-label="category"><option value="">All categories</option>{cat_opts}</select>'
        '<select id="f-status" aria-label="result"><option value="">All results</option>'
        '<option value="passed">passed</option><option value="flaky">flaky</option>'
        '<option value="failed">failed</option><option value="skipped">skipped</option></select>'
        '<span id="f-count" class="muted"></span></div>'
        '<div class="scroll"><table id="all-table"><thead><tr><th data-sort="text">Challenge</th>'
        '<th data-sort="text">Category</th><th data-sort="text">Difficulty</th><th data-sort="text">Result</th>'
        '<th data-sort="num" class="num">Passed</th><th data-sort="num" class="num">Steps</th>'
        '<th data-sort="num" class="num">Time</th><th data-sort="num" class="num">Cost</th>'
        f'<th data-sort="num" class="num">Tokens</th>{hist_head}<th data-sort="text">Fail / skip reason</th></tr>'
        f'</thead><tbody>{"".join(rows)}</tbody></table></div>'
        '<p class="muted small">Click a column to sort. Time and cost are over all attempts; steps are per attempt.</p>'
        "</section>"
    )


def _footer(report: BenchmarkReport) -> str:
    config = json.dumps(report.config, indent=2, default=str, ensure_ascii=False) if report.config else "{}"
    return (
        f'<footer class="card"><h2>Run details</h2><dl class="meta">'
        f"<div><dt>Command</dt><dd><code>{e(report.command)}</code></dd></div>"
        f"<div><dt>Finished</dt><dd>{e(_when(report.completion_time))}</dd></div></dl>"
        f"<details><summary>Configuration</summary><pre>{e(config)}</pre></details></footer>"
    )


CSS = """
:root{--bg:#f5f6f8;--card:#fff;--fg:#1d2330;--muted:#667085;--border:#e3e6eb;--grid:#eceff3;--track:#f0f2f5;
--pass:#2f9e44;--flaky:#e8a317;--fail:#e03131;--skip:#98a2b3;--accent:#3b5bdb}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2128;--fg:#e6e8eb;--muted:#9aa3b2;--border:#2c323c;
--grid:#2a3039;--track:#262b33;--accent:#8ea2ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
nav{position:sticky;top:0;z-index:2;background:var(--bg);border-bottom:1px solid var(--border);padding:8px 0;
margin-bottom:16px;display:flex;gap:16px;flex-wrap:wrap;font-size:13px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:26px;margin:0}h2{font-size:17px;margin:0 0 10px}h4{font-size:14px;margin:0 0 6px}
.title{display:flex;align-items:center;gap:10px}.subtitle{margin:4px 0 12px;color:var(--muted);font-size:15px}
.card{background:var(--card);border:1px solid var(--border);border-radius:10px;padding:16px 18px;margin:0 0 16px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px;margin-bottom:16px}
.grid2>.card{margin:0}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0 0 14px}.meta dt{color:var(--muted);font-size:12px}
.meta dd{margin:0;font-weight:500;overflow-wrap:anywhere}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:16px}
.kpi{background:var(--card);border:1px solid var(--border);border-radius:10px;padding:12px 14px}
.kpi-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi-value{font-size:24px;font-weight:650;margin:2px 0}.kpi-sub{color:var(--muted);font-size:12px;min-height:1em}
.kpi-value.na{font-size:15px;font-weight:500;color:var(--muted);padding:7px 0}
.flag{font-size:12px;font-weight:600;padding:2px 8px;border-radius:999px;text-transform:uppercase}
.flag.mock{background:#fff3bf;color:#7c5800}.flag.interrupted{background:#ffe3e3;color:#a61e1e}
.alert{border-radius:10px;padding:10px 16px;margin:0 0 16px;border:1px solid}
.alert.bad{background:#fff5f5;border-color:#ffc9c9;color:#8a1c1c}.alert.good{background:#ebfbee;border-color:#b2f2bb;
color:#1e6b2e}.alert h2{margin:4px 0}.alert p{margin:4px 0}
@media (prefers-color-scheme:dark){.alert.bad{background:#3a1d20;border-color:#6e2c31;color:#ffc9c9}
.alert.good{background:#173020;border-color:#2b5a36;color:#b2f2bb}}
.muted{color:var(--muted)}.small{font-size:12px}.strong{font-weight:600}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px}
.bar-columns{display:flex;flex-wrap:wrap;align-items:flex-start;gap:0 16px}
svg .label,svg .note,svg .tick,svg .axis{fill:var(--fg)}svg .note,svg .tick{fill:var(--muted)}
svg .track{fill:var(--track)}svg .grid{stroke:var(--grid);stroke-width:1}
svg a:hover .bar{opacity:.8}svg a:hover .label{text-decoration:underline}
svg .point{stroke:var(--card);stroke-width:1.5;fill-opacity:.85}svg .point.passed{fill:var(--pass)}
svg .point.flaky{fill:var(--flaky)}svg .point.failed{fill:var(--fail)}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin:0 0 10px;font-size:12px}
.chip{display:inline-flex;align-items:center;gap:5px;white-space:nowrap}
.chip i{display:inline-block;width:10px;height:10px;border-radius:2px}
.dot{border-radius:50%!important}.dot.passed{background:var(--pass)}.dot.flaky{background:var(--flaky)}
.dot.failed{background:var(--fail)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--border);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;white-space:nowrap}
th[data-sort]{cursor:pointer;user-select:none}th[data-sort]:hover{color:var(--fg)}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 7px;border-radius:999px;white-space:nowrap}
.badge.passed{background:#d3f9d8;color:#1e6b2e}.badge.flaky{background:#fff3bf;color:#7c5800}
.badge.failed{background:#ffe3e3;color:#a61e1e}.badge.skipped{background:#eceff3;color:#475467}
.reason-cell{color:var(--muted);max-width:300px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin-bottom:8px}
.filters input,.filters select{font:inherit;padding:4px 8px;border:1px solid var(--border);border-radius:6px;
background:var(--card);color:var(--fg)}
.hist{display:inline-flex;gap:2px;align-items:center}.h{display:inline-block;width:8px;height:12px;border-radius:2px}
.h.passed{background:var(--pass)}.h.failed{background:var(--fail)}.h.flaky{background:var(--flaky)}.h.none{background:var(--skip);opacity:.5}
.h.now{outline:2px solid var(--fg);outline-offset:1px;margin-left:3px}
details.failure{border:1px solid var(--border);border-radius:8px;margin:0 0 10px;padding:0 12px}
details.failure>summary{cursor:pointer;padding:10px 0;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
details.failure[open]>summary{border-bottom:1px solid var(--border);margin-bottom:10px}
.fname{font-weight:650}.freason{color:var(--muted);flex:1 1 300px;overflow-wrap:anywhere}
.attempt{margin:0 0 14px}.reason{margin:0 0 6px;color:var(--fail);font-weight:500;overflow-wrap:anywhere}
.task pre,pre.out,footer pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0 10px;font-size:12px;
background:var(--track);padding:8px;border-radius:6px;max-height:260px;overflow:auto}
pre.out{margin:0;padding:4px 6px;max-height:160px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
code.args{overflow-wrap:anywhere}
table.steps{margin:4px 0 8px}table.steps caption{text-align:left;color:var(--muted);font-size:12px;padding:2px 0}
table.steps td:nth-child(3){min-width:200px;max-width:300px}ul.evals{margin:0 0 8px;padding-left:20px;font-size:13px}
footer{margin-top:8px}
"""

# Sorting and filtering of the all-challenges table; the CSP admits it by hash and nothing else.
SCRIPT = """
(function () {
  const table = document.getElementById("all-table");
  if (!table) return;
  const tbody = table.tBodies[0];
  const rows = Array.from(tbody.rows);
  let sortedBy = -1, ascending = true;
  table.querySelectorAll("th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {
      const idx = th.cellIndex, numeric = th.dataset.sort === "num";
      ascending = sortedBy === idx ? !ascending : !numeric;
      sortedBy = idx;
      const key = function (r) {
        const c = r.cells[idx];
        return numeric ? parseFloat(c.dataset.v) : c.textContent.trim().toLowerCase();
      };
      rows.sort(function (a, b) {
        const x = key(a), y = key(b);
        const order = numeric ? x - y : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (r) { tbody.appendChild(r); });
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
  });
  const text = document.getElementById("f-text");
  const cat = document.getElementById("f-cat");
  const status = document.getElementById("f-status");
  const count = document.getElementById("f-count");
  function apply() {
    const t = text.value.trim().toLowerCase();
    let shown = 0;
    rows.forEach(function (r) {
      const ok = (!t || r.dataset.name.includes(t)) &&
        (!cat.value || r.dataset.cats.split("|").includes(cat.value)) &&
        (!status.value || r.dataset.status === status.value);
      r.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + " of " + rows.length + " shown";
  }
  [text, cat, status].forEach(function (el) { el.addEventListener("input", apply); });
  apply();
})();
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def render_html(report: BenchmarkReport, history: History | None = None) -> str:
    """The whole page as one string. HISTORY: each challenge's outcome in earlier runs, oldest first
    (True passed, False failed, None skipped), as `compare.run_history` reads it; it adds the history
    column and regression flags."""
    items = outcomes(report)
    colours = category_colours(c for o in items for c in o.categories)
    title = f"Benchmark: {report.agent or 'agent'}" + (f" ({report.model})" if report.model else "")
    nav = [("categories", "Categories"), ("challenges-chart", "Per challenge"), ("scatter", "Cost & steps"),
           ("tops", "Slowest & costliest"), ("failures", "Failures")]
    if any(o.status == "skipped" for o in items):
        nav.append(("skipped", "Skipped"))
    nav.append(("all", "All challenges"))
    if items:
        charts = (
            _category_section(items, colours)
            + _challenge_rate_section(items, colours)
            + _scatter_section(items)
            + _tops_section(items)
        )
    else:
        charts = ""
        nav = [("all", "All challenges")]
    body = (
        _header(report, items)
        + f'<nav>{"".join(f"<a href=#{anchor}>{e(label)}</a>" for anchor, label in nav)}</nav>'
        + _regression_section(items, history)
        + charts
        + (_failures_section(report, items, colours) if items else "")
        + _skipped_section(items)
        + _all_section(items, colours, history)
        + _footer(report)
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main><script>{SCRIPT}</script></body></html>\n"
    )


def write_html(report_dir: Path, *, history: History | None = None) -> Path:
    """Render REPORT_DIR/report.json to REPORT_DIR/report.html (replaced atomically) and return its path.
    Without HISTORY it is read from the sibling runs that sort before this one (reports/<run_id>/)."""
    report = read_report(report_dir / REPORT_FILE)
    if history is None:
        history = run_history(report_dir.parent, before=report_dir.name) or None
    page = render_html(report, history)
    target = report_dir / HTML_FILE
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".html.tmp", dir=report_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


__all__ = ["HTML_FILE", "ReportError", "render_html", "write_html"]
