"""compare (what regressed and improved between two runs), RUN references, and history across runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_report_helpers import attempt, challenge, realistic_report, report
from rich.console import Console

from benchmark.compare import (
    Comparison,
    ReportError,
    compare,
    list_runs,
    load_run,
    regressions,
    render_comparison,
    run_history,
)
from benchmark.outcomes import outcomes
from benchmark.results import BenchmarkReport, ChallengeReport
from benchmark.spec import ChallengeError


def _k3(category: str, passes: int, reason: str = "wrong answer") -> ChallengeReport:
    return challenge(category, [attempt(n, n <= passes, reason=None if n <= passes else reason) for n in (1, 2, 3)])


def _skip(category: str) -> ChallengeReport:
    return challenge(category, [], skipped="dependency Stable failed")


A = report({
    "Stable": _k3("safety", 3),
    "Regress": _k3("safety", 2),
    "Improve": _k3("memory", 0),
    "Less": _k3("memory", 3),
    "More": _k3("memory", 1),
    "StillFail": _k3("memory", 0),
    "NotRun": _k3("memory", 3),
    "Gone": _k3("memory", 3),
    "SkippedThenPass": _skip("memory"),
}, run_id="20261101T100000", total_cost=1.0, run_time_s=100.0)
B = report({
    "Stable": _k3("safety", 3),
    "Regress": _k3("safety", 0, reason="[bold]reached_cutoff[/]"),
    "Improve": _k3("memory", 1),
    "Less": _k3("memory", 1, reason="output.txt: missing 'x'"),
    "More": _k3("memory", 3),
    "StillFail": _k3("memory", 0),
    "NotRun": _skip("memory"),
    "Fresh": _k3("memory", 2),
    "SkippedThenPass": _k3("memory", 3),
}, run_id="20261102T100000", total_cost=1.5, run_time_s=80.0, model="local/smollm2")


def _names(changes: list) -> list[str]:
    return [c.name for c in changes]


def test_compare_sorts_every_challenge_into_one_bucket() -> None:
    c = compare(A, B)
    assert _names(c.regressed) == ["Regress"]
    assert _names(c.improved) == ["Improve", "SkippedThenPass"]
    assert _names(c.less_reliable) == ["Less"] and _names(c.more_reliable) == ["More"]
    assert _names(c.still_failing) == ["StillFail"] and _names(c.not_run) == ["NotRun"]
    assert _names(c.new) == ["Fresh"] and _names(c.removed) == ["Gone"]
    assert c.still_passing == 1
    reg = c.regressed[0]
    assert (reg.a, reg.b, reg.reason, reg.category) == ("2/3", "0/3", "[bold]reached_cutoff[/]", "safety")
    assert reg.a_rate == pytest.approx(200 / 3) and reg.b_rate == 0
    assert c.not_run[0].b == "skipped" and c.not_run[0].reason == "dependency Stable failed"
    assert c.new[0].a == "absent" and c.removed[0].b == "absent"
    assert (c.a.run_id, c.b.run_id, c.b.model, c.a.k) == ("20261101T100000", "20261102T100000", "local/smollm2", 3)


def test_compare_deltas_overall_and_per_category() -> None:
    c = compare(A, B)
    # A ran 8: rates 100, 66.7, 0, 100, 33.3, 0, 100, 100; B ran 8: 100, 0, 33.3, 33.3, 100, 0, 66.7, 100.
    assert c.pass_at_1.a == pytest.approx(62.5) and c.pass_at_1.b == pytest.approx(433.333 / 8, abs=1e-3)
    assert c.pass_at_1.delta == pytest.approx(433.333 / 8 - 62.5, abs=1e-3)
    assert c.pass_at_k.a == 75.0 and c.pass_at_k.b == 75.0 and c.pass_at_k.delta == 0
    assert c.solved.a == 75.0 and c.solved.b == 75.0
    assert c.cost.delta == pytest.approx(0.5) and c.run_time_s.delta == -20.0
    assert c.tokens.a == 24000 and c.tokens.delta == 0  # 8 challenges x 3 attempts x 1000
    safety = next(cd for cd in c.categories if cd.category == "safety")
    assert safety.pass_at_1.a == pytest.approx(250 / 3) and safety.pass_at_1.b == 50.0
    assert (safety.a_solved, safety.a_ran, safety.b_solved, safety.b_ran) == (2, 2, 1, 2)
    assert [cd.category for cd in c.categories] == ["memory", "safety"]
    # The deltas are part of the model's JSON (what a CLI --json would print).
    data = json.loads(c.model_dump_json())
    assert data["cost"]["delta"] == pytest.approx(0.5) and data["regressed"][0]["name"] == "Regress"
    assert Comparison.model_validate(data).regressed[0].name == "Regress"


def _render(renderable: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_render_comparison_lists_changes_regressions_first() -> None:
    text = _render(render_comparison(compare(A, B)))
    assert "20261101T100000" in text and "20261102T100000" in text and "local/smollm2" in text
    order = [text.index(h) for h in ("Overall", "By category", "Regressed", "Improved", "Less reliable",
                                     "More reliable", "Not run in B", "Still failing", "New in B", "Removed in B")]
    assert order == sorted(order)
    assert "[bold]reached_cutoff[/]" in text  # the agent's text, not markup
    assert "+$0.5000" in text and "-20.0 s" in text and "-8.3 pts" in text  # pass@1 62.5 -> 54.2
    assert "1 challenge(s) passed in both runs unchanged" in text
    same = _render(render_comparison(compare(A, A)))
    assert "No regressions" in same and "Regressed" not in same and "±0" in same
    k_differs = _render(render_comparison(compare(A, realistic_report(k=5))))
    assert "different numbers of attempts (K=3 vs K=5)" in k_differs


# RUN references ------------------------------------------------------------------------------


def _save(reports: Path, run_id: str, rep: BenchmarkReport | None = None) -> Path:
    folder = reports / run_id
    folder.mkdir(parents=True)
    (folder / "report.json").write_text((rep or A).model_copy(update={"run_id": run_id}).dump())
    return folder


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    for run_id in ("20261101T100000", "20261102T100000", "20261103T090000"):
        _save(root, run_id)
    (root / "scratch").mkdir()  # a folder without a report.json is not a run
    return root


def test_load_run_resolves_every_kind_of_reference(reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [p.name for p in list_runs(reports)] == ["20261101T100000", "20261102T100000", "20261103T090000"]
    assert load_run(reports, "latest").run_id == "20261103T090000"
    assert load_run(reports, "latest~0").run_id == "20261103T090000"
    assert load_run(reports, "latest~2").run_id == "20261101T100000"
    assert load_run(reports, "20261102T100000").run_id == "20261102T100000"
    assert load_run(reports, "20261103").run_id == "20261103T090000"  # a unique prefix
    assert load_run(reports, str(reports / "20261101T100000")).run_id == "20261101T100000"
    assert load_run(reports, str(reports / "20261101T100000" / "report.json")).run_id == "20261101T100000"
    monkeypatch.chdir(reports.parent)
    assert load_run(Path("elsewhere"), "reports/20261102T100000").run_id == "20261102T100000"
    loaded = load_run(reports, "latest")
    assert loaded.tests.keys() == A.tests.keys() and loaded.metrics.total_cost == 1.0


def test_bad_run_references_say_what_to_pass(reports: Path, tmp_path: Path) -> None:
    how = "pass a run id, a path to a run folder or report.json, latest or latest~N"
    with pytest.raises(ReportError, match=r"latest~3: .* holds only 3 run\(s\); use latest~0 to latest~2"):
        load_run(reports, "latest~3")
    with pytest.raises(ReportError, match=rf"no run 'nope' in .*reports \(newest: 20261103T090000, .*\); {how}"):
        load_run(reports, "nope")
    with pytest.raises(ReportError, match=r"run '202611' is ambiguous .*give more of the run id"):
        load_run(reports, "202611")
    with pytest.raises(ReportError, match=rf"scratch holds no report.json; {how}"):
        load_run(reports, "scratch")
    with pytest.raises(ReportError, match=r"no benchmark runs in .*empty; run ./run benchmark first"):
        load_run(tmp_path / "empty", "latest")
    with pytest.raises(ReportError, match="empty run reference"):
        load_run(reports, " ")
    (reports / "20261104T000000").mkdir()
    (reports / "20261104T000000" / "report.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"20261104T000000/report.json: not valid JSON"):
        load_run(reports, "latest")
    (reports / "20261104T000000" / "report.json").write_text(json.dumps({"command": "x"}))
    with pytest.raises(ReportError, match=r"not a benchmark report \(benchmark_start_time: Field required\)"):
        load_run(reports, "20261104T000000")
    # One line, and a ChallengeError (an AutoGPTError) like every other benchmark input error.
    with pytest.raises(ChallengeError) as info:
        load_run(reports, "nope")
    assert "\n" not in str(info.value)


# History -------------------------------------------------------------------------------------


def _one(name: str, ok: bool | None, other: str = "Other") -> BenchmarkReport:
    tests = {other: challenge("memory", [attempt(1, True)], k=1)}
    tests[name] = challenge("memory", [], k=1, skipped="dep") if ok is None else challenge(
        "memory", [attempt(1, ok, reason=None if ok else "no")], k=1)
    return report(tests, k=1)


def test_run_history_reads_earlier_runs_oldest_first(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    _save(root, "r1", _one("X", True))
    _save(root, "r2", _one("X", None))
    _save(root, "r3", report({"Other": challenge("memory", [attempt(1, False, reason="no")], k=1)}, k=1))
    (root / "r4").mkdir()
    (root / "r4" / "report.json").write_text("damaged")  # left out, not fatal
    _save(root, "r5", _one("X", False))
    _save(root, "r6", _one("X", True))
    history = run_history(root, before="r6")
    assert history == {"X": [True, None, None, False], "Other": [True, True, False, True]}
    assert run_history(root, before="r2") == {"X": [True], "Other": [True]}
    assert run_history(root, before="r1") == {}
    assert run_history(root, limit=2) == {"X": [False, True], "Other": [True, True]}
    assert run_history(tmp_path / "missing") == {}


def test_regressions_need_three_passing_runs_or_the_runner_flag() -> None:
    rep = report({
        "Three": _k3("memory", 0),
        "Two": _k3("memory", 0),
        "Flagged": challenge("memory", [attempt(1, False, reason="x")], is_regression=True),
        "StillPasses": _k3("memory", 1),
        "Skipped": _skip("memory"),
    })
    history = {"Three": [False, True, True, True], "Two": [False, True, True], "StillPasses": [True] * 3,
               "Skipped": [True] * 3}
    assert regressions(outcomes(rep), history) == ["Flagged", "Three"]
    assert regressions(outcomes(rep), None) == ["Flagged"]
