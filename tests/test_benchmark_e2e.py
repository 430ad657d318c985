"""The benchmark end to end: the whole built-in suite through the runner in --mock mode, the oracle agent
scoring 100% over the Agent Protocol, and the real embedded model on two challenges."""

from __future__ import annotations

import json
from pathlib import Path

from ap_helpers import Server, write_script
from benchmark_helpers import options

from benchmark.runner import run_benchmark
from benchmark.spec import discover_challenges

BUILTIN = discover_challenges()


def test_the_builtin_suite_passes_in_mock_mode(tmp_path: Path) -> None:
    report = run_benchmark(options(tmp_path, builtin=True, mock=True, parallel=4))
    failed = {n: t.results[0].fail_reason for n, t in report.tests.items() if not t.results[0].success}
    assert len(report.tests) == len(BUILTIN) >= 40 and not failed, failed
    assert report.metrics.pass_at_1 == 1.0 and report.mock
    run_dir = tmp_path / "reports" / report.run_id
    assert (run_dir / "report.html").stat().st_size > 10_000 and (run_dir / "report.json").is_file()


def test_the_oracle_agent_scores_every_challenge_over_the_protocol(tmp_path: Path) -> None:
    """Not --mock: the oracle agent writes each reference solution with its own tools, step by step."""
    judge = tmp_path / "judge.json"
    judge.write_text(json.dumps({"responses": ["100"], "repeat_last": True}))
    srv = Server(tmp_path / "ws", write_script(tmp_path / "agent.json", []),
                 args=["--agent", "benchmark.oracle:OracleAgent"]).start()
    try:
        report = run_benchmark(options(tmp_path, builtin=True, host=srv.url, parallel=4,
                                       judge_model=f"scripted/{judge}"))
    finally:
        srv.stop()
    failed = {n: t.results[0].fail_reason for n, t in report.tests.items() if not t.results[0].success}
    assert len(report.tests) == len(BUILTIN) and not failed, failed
    assert all(t.results[0].n_steps >= 2 for t in report.tests.values())  # real steps, not an upload


def test_the_embedded_model_runs_two_challenges(tmp_path: Path) -> None:
    """The default agent (embedded model, staged decisions) started by the runner: both attempts run real
    steps within their cutoff and report tokens; whether they pass is the model's score, not asserted."""
    report = run_benchmark(options(tmp_path, builtin=True, tests=["WriteFile", "ReadFile"], no_dep=True,
                                   cutoff=240, model="local/smollm2"))
    for name in ("WriteFile", "ReadFile"):
        result = report.tests[name].results[0]
        assert result.n_steps >= 1 and (result.tokens or 0) > 0, (name, result.fail_reason)
        assert result.success or result.fail_reason, name
        assert not (result.fail_reason or "").startswith("runner error"), result.fail_reason
