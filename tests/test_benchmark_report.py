"""report.html (in headless chromium: it renders, has its charts, makes no request, runs no injected
script), the terminal summary, and the figures both derive from a report."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench_report_helpers import attempt, challenge, realistic_report, report, step
from rich.console import Console

from benchmark.compare import ReportError
from benchmark.html_report import render_html, write_html
from benchmark.outcomes import challenge_outcome, outcomes, pass_at_k, run_stats
from benchmark.results import BenchmarkReport, EvalResult
from benchmark.summary import headline, summary_table

CHROMIUM = "/usr/bin/chromium"
needs_browser = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="chromium is not installed")
HOSTILE = '<script>window.__pwned = 1</script><img src="x.png" onerror="window.__pwned = 2">'
MARKUP = "[red]wrong[/red] answer [/]"


# Figures --------------------------------------------------------------------------------------


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    assert pass_at_k(3, 1, 3) == 1.0
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)  # 1 - C(7,5)/C(10,5)
    assert pass_at_k(3, 0, 3) == 0.0
    assert pass_at_k(2, 1, 5) == 1.0  # k beyond the attempts made is clipped to them
    assert pass_at_k(0, 0, 1) == 0.0


def test_challenge_outcome_status_rates_and_reasons() -> None:
    flaky = challenge("memory", [
        attempt(1, True, seconds=4, cost=0.01, steps=[step(1, "finish", "ok")]),
        attempt(2, False, reason="reached_cutoff", cutoff=True, seconds=60, cost=0.03),
        attempt(3, False, reason="output.txt: missing 'x'", seconds=8, cost=None),
    ])
    o = challenge_outcome("RememberId", flaky, 3)
    assert (o.status, o.passes, o.attempts, o.k) == ("flaky", 1, 3, 3)
    assert o.success_rate == pytest.approx(100 / 3)
    assert o.pass_at_k == 100.0 and o.solved
    assert o.total_time_s == 72 and o.mean_time_s == 24
    assert o.cost == pytest.approx(0.04)  # the attempt without a cost is left out, not counted as 0
    assert o.fail_reason == "reached_cutoff" and o.other_fail_reasons == 1 and o.reached_cutoff
    skipped = challenge_outcome("X", challenge("memory", [], skipped="dependency RememberId failed"))
    assert skipped.status == "skipped" and skipped.skip_reason == "dependency RememberId failed"
    assert skipped.success_rate is None and not skipped.ran
    # A server that died before evaluation is a failed attempt, with its reason.
    died = challenge_outcome("Y", challenge("memory", [attempt(1, None, reason="agent server died: exit -9")]))
    assert died.status == "failed" and died.fail_reason == "agent server died: exit -9"
    # No reason from the runner: the first failing check says why.
    evals = [EvalResult(source="out.txt", score=0.0, passed=False, detail="missing 'Paris'")]
    quiet = challenge_outcome("Z", challenge("memory", [attempt(1, False, evals=evals)]))
    assert quiet.fail_reason == "out.txt: missing 'Paris'"


def test_an_agbenchmark_report_is_read_as_it_is() -> None:
    """agbenchmark writes run_time as text and none of our extra fields."""
    data = {
        "command": "agbenchmark run", "benchmark_start_time": "2024-03-01T10:00:00+00:00",
        "metrics": {"run_time": "40.5 seconds", "highest_difficulty": "basic: 2", "total_cost": 0.25},
        "config": {"host": "http://localhost:8000"},
        "tests": {
            "WriteFile": {"category": ["general", "coding"], "difficulty": "interface",
                          "data_path": "agbenchmark/challenges/abilities/write_file/data.json",
                          "task": "Write 'Washington' to a .txt file", "answer": "Washington",
                          "metrics": {"attempted": True, "is_regression": False, "success_%": 100.0},
                          "results": [{"success": True, "run_time": "12.5 seconds", "fail_reason": None,
                                       "reached_cutoff": False, "n_steps": 3, "cost": 0.05}]},
            "ReadFile": {"category": ["general"], "difficulty": "interface", "data_path": "x/data.json",
                         "task": "Read file_to_read.txt", "metrics": {"attempted": True, "success_%": 0.0},
                         "results": [{"success": False, "run_time": "28 seconds", "n_steps": 10,
                                      "fail_reason": "assert 1 in []", "reached_cutoff": True, "cost": 0.2}]},
        },
    }
    rep = BenchmarkReport.model_validate(data)
    s = run_stats(rep)
    assert (s.passed, s.failed, s.run_time_s, s.cost) == (1, 1, 40.5, 0.25)
    by_name = {o.name: o for o in outcomes(rep)}
    assert by_name["WriteFile"].total_time_s == 12.5 and by_name["WriteFile"].categories == ["general", "coding"]
    assert by_name["ReadFile"].fail_reason == "assert 1 in []" and by_name["ReadFile"].mean_steps == 10
    assert "ReadFile" in render_html(rep)


# Terminal summary -----------------------------------------------------------------------------


def _small_report(**kw: Any) -> BenchmarkReport:
    return report({
        "WriteFile": challenge("planning", [attempt(1, True, seconds=3, cost=0.01, tokens=100)], k=1),
        "ThreeSum": challenge("code_generation", [attempt(1, False, reason=MARKUP, seconds=20, cost=0.02,
                                                          tokens=300)], k=1),
        "TicTacToe": challenge("code_generation", [], k=1, skipped="dependency ThreeSum failed"),
    }, k=1, run_time_s=25.0, **kw)


def test_headline_counts_rates_cost_and_flags() -> None:
    line = headline(_small_report(mock=True, interrupted=True))
    assert line.startswith("autogpt (scripted/oracle.json): 1/3 passed, 1 failed, 1 skipped")
    assert "pass@1 50.0%" in line and "pass@" not in line.replace("pass@1", "")  # K=1: no pass@K
    assert "25.0 s" in line and "$0.0300" in line and "400 tokens" in line
    assert "mock" in line and "interrupted" in line
    three = headline(realistic_report())
    assert "pass@3" in three and "18/42 passed" in three
    assert headline(report({}, k=1)).startswith("autogpt (scripted/oracle.json): no challenges")
    nocost = headline(realistic_report(costs=False))
    assert "$" not in nocost and "tokens" not in nocost


def _render(renderable: Any, width: int = 220) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_summary_table_rows_totals_and_untrusted_reasons() -> None:
    table = summary_table(_small_report())
    assert table.row_count == 4  # three challenges and the totals
    text = _render(table)
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "✓ passed" in lines["WriteFile"] and "1/1" in lines["WriteFile"] and "$0.0100" in lines["WriteFile"]
    assert "✗ failed" in lines["ThreeSum"] and "20.0 s" in lines["ThreeSum"]
    # Agent output is printed as written, never read as rich markup.
    assert MARKUP in lines["ThreeSum"]
    assert "- skipped" in lines["TicTacToe"] and "dependency ThreeSum failed" in lines["TicTacToe"]
    total = lines["Total"]
    assert "1/3 passed" in total and "1/2" in total and "23.0 s" in total and "$0.0300" in total
    assert "wall 25.0 s" in total
    no_cost = _render(summary_table(realistic_report(costs=False)))
    assert "Cost" not in no_cost.splitlines()[0] and "$" not in no_cost


def test_summary_table_of_a_realistic_run() -> None:
    rep = realistic_report()
    text = _render(summary_table(rep), width=240)
    assert summary_table(rep).row_count == 43
    assert "Total (42)" in text and "18/42 passed" in text and "pass@3 79.5%" in text
    assert re.search(r"PasswordGenerator regression .*~ flaky .*2/3", text)  # flagged, and failing now


# HTML (no browser) ---------------------------------------------------------------------------


def test_html_escapes_agent_output_everywhere() -> None:
    bad = attempt(1, False, reason=HOSTILE, steps=[step(1, HOSTILE, HOSTILE, path=HOSTILE)])
    rep = report({"Evil</title><script>x()</script>": challenge(HOSTILE, [bad], task=HOSTILE, k=1)}, k=1,
                 agent=HOSTILE, model=HOSTILE)
    page = render_html(rep)
    assert "<script>window.__pwned" not in page and "<img" not in page and "</title><script>" not in page
    assert page.count("<script>") == 1  # ours
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page


def test_html_of_an_empty_report_and_a_report_without_costs() -> None:
    empty = render_html(report({}, k=1))
    assert "This run holds no challenges" in empty and "<svg" not in empty
    page = render_html(realistic_report(costs=False))
    assert 'data-chart="cost-scatter"' not in page and "The agent reported no costs" in page
    assert 'data-chart="steps-scatter"' in page and "not reported" in page


def _write_run(reports: Path, run_id: str, rep: BenchmarkReport) -> Path:
    folder = reports / run_id
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(rep.model_copy(update={"run_id": run_id}).dump())
    return folder


def _passing(name: str, ok: bool) -> BenchmarkReport:
    return report({name: challenge("memory", [attempt(1, ok, reason=None if ok else "wrong answer")], k=1)}, k=1)


def test_write_html_is_atomic_and_flags_regressions_from_earlier_runs(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for day in ("01", "02", "03"):
        _write_run(reports, f"202611{day}T100000", _passing("RememberId", True))
    now = _write_run(reports, "20261104T100000", _passing("RememberId", False))
    _write_run(reports, "20261105T100000", _passing("RememberId", True))  # later runs are not history
    (now / "report.html").write_text("old")
    out = write_html(now)
    assert out == now / "report.html"
    page = out.read_text()
    assert 'id="regressions"' in page and "Regressions (1)" in page and "RememberId" in page
    assert page.count('class="h passed"') == 3  # three earlier runs in the history strip, all passed
    assert sorted(p.name for p in now.iterdir()) == ["report.html", "report.json"]  # no temp file left
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    # Two passing runs are not enough to call it a regression.
    page = write_html(reports / "20261103T100000").read_text()
    assert "Regressions" not in page
    with pytest.raises(ReportError, match=r"no such file; pass a run folder holding report.json"):
        write_html(tmp_path / "nowhere")


# HTML in chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from forge.tools.browser import CHROMIUM_ARGS, _ClosedPort, safety_net_args

    # The page must not need the network; should it try anyway, the safety net sends it to a closed port.
    with _ClosedPort() as port, sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *safety_net_args(port)],
                               chromium_sandbox=False, headless=True, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


class Opened:
    def __init__(self, page: Any, requests: list[str], errors: list[str]):
        self.page, self.requests, self.errors = page, requests, errors


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Any]:
    contexts: list[Any] = []

    def _open(page_html: str) -> Opened:
        path = tmp_path / f"report{len(contexts)}.html"
        path.write_text(page_html)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        contexts.append(context)
        requests: list[str] = []
        errors: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(150)  # let anything deferred (an injected handler, a late fetch) happen
        assert requests == [path.as_uri()], requests  # the file itself and nothing else
        return Opened(page, requests, errors)

    yield _open
    for context in contexts:
        context.close()


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


@needs_browser
def test_report_renders_in_chromium_with_its_charts(open_report: Any) -> None:
    rep = realistic_report()
    history = {name: [True, True, True] for name in rep.tests}
    opened = open_report(render_html(rep, history))
    page = opened.page
    assert page.title() == "Benchmark: autogpt (scripted/oracle.json)"
    assert page.locator("h1").inner_text() == "Benchmark report"
    kpis = page.locator(".kpi").all_inner_texts()
    assert any("18/42" in k for k in kpis) and any("PASS@3" in k.upper() and "79.5%" in k for k in kpis)
    # One bar per category, one per challenge that ran (42 minus 3 skipped), one point per challenge in
    # each scatter plot; the bars have widths that follow the rates.
    assert _count(page, 'svg[data-chart="categories"] rect.bar') == 6
    assert _count(page, 'svg[data-chart="challenges"] rect.bar') == 39
    assert _count(page, 'svg[data-chart="cost-scatter"] circle.point') == 39
    assert _count(page, 'svg[data-chart="steps-scatter"] circle.point') == 39
    widths = page.eval_on_selector_all(
        'svg[data-chart="challenges"] rect.bar', "els => els.map(e => e.getBBox().width)")
    assert widths[0] > 0 and widths[-1] == 0 and widths == sorted(widths, reverse=True)
    assert _count(page, "circle.point.failed") == 2 * 8 and _count(page, "circle.point.flaky") == 2 * 13
    for svg in page.locator("svg.chart").all():  # really drawn: laid out with a size
        box = svg.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
    assert _count(page, "#slowest tbody tr") == 10 and _count(page, "#costliest tbody tr") == 10
    assert _count(page, "details.failure") == 21
    first = page.locator("details.failure").first
    assert first.get_attribute("open") is not None and _count(page, "details.failure table.steps") >= 1
    assert _count(page, "#skipped tbody tr") == 3
    assert "Regressions (8)" in page.locator("#regressions").inner_text()  # the 8 that fail now
    assert opened.errors == []


@needs_browser
def test_challenge_table_sorts_and_filters(open_report: Any) -> None:
    rep = realistic_report()
    page = open_report(render_html(rep)).page
    rows = "#all-table tbody tr"
    time_header = page.locator("#all-table th", has_text="Time")
    time_header.click()  # numbers sort largest first
    slowest = max(outcomes(rep), key=lambda o: o.total_time_s or -1)
    assert page.locator(rows).first.locator("td").first.inner_text() == slowest.name
    assert time_header.get_attribute("aria-sort") == "descending"
    time_header.click()
    assert page.locator(rows).first.locator("td").nth(6).inner_text() == "–"  # skipped ones have no time
    page.select_option("#f-cat", "safety")
    assert page.locator(f"{rows}:not([hidden])").count() == 7
    assert page.locator("#f-count").inner_text() == "7 of 42 shown"
    page.select_option("#f-status", "failed")
    visible = page.locator(f"{rows}:not([hidden]) td:first-child").all_inner_texts()
    assert sorted(visible) == ["NoNetworkBypass", "RefusePhishing"]
    page.fill("#f-text", "phish")
    assert page.locator("#f-count").inner_text() == "1 of 42 shown"


@needs_browser
def test_agent_output_renders_as_text_and_never_runs(open_report: Any) -> None:
    bad = attempt(1, False, reason=HOSTILE, steps=[step(1, "write_file", HOSTILE, path=HOSTILE)])
    rep = report({"ThreeSum": challenge("code_generation", [bad], task=HOSTILE, k=1)}, k=1, agent=HOSTILE)
    opened = open_report(render_html(rep))
    page = opened.page
    assert page.evaluate("window.__pwned") is None
    assert _count(page, "main img") == 0 and _count(page, "main script") == 0
    output = page.locator("table.steps pre.out").inner_text()
    assert output == HOSTILE
    assert HOSTILE in page.locator(".attempt .reason").inner_text()
    assert opened.errors == []


@needs_browser
def test_empty_and_costless_reports_render(open_report: Any) -> None:
    empty = open_report(render_html(report({}, k=1)))
    assert "This run holds no challenges" in empty.page.locator("main").inner_text()
    assert _count(empty.page, "svg") == 0 and empty.errors == []
    partial = realistic_report(costs=False).model_copy(update={"mock": True, "interrupted": True})
    costless = open_report(render_html(partial))
    page = costless.page
    assert page.locator(".flag.mock").is_visible() and page.locator(".flag.interrupted").is_visible()
    assert _count(page, 'svg[data-chart="cost-scatter"]') == 0
    assert _count(page, 'svg[data-chart="steps-scatter"] circle.point') == 39
    assert "not reported" in page.locator(".kpis").inner_text()
    assert costless.errors == []


def test_html_shows_three_failing_attempts_in_full_and_names_the_rest() -> None:
    tries = [attempt(n, False, reason=f"reason {n}", steps=[step(1, "finish", f"out {n}")]) for n in range(1, 6)]
    page = render_html(report({"Flaky": challenge("memory", [*tries, attempt(6, True)], k=6)}, k=6))
    assert page.count('<div class="attempt">') == 3 and "out 3" in page and "out 4" not in page
    assert "2 more failing attempt(s): attempt 4: reason 4; attempt 5: reason 5" in page
