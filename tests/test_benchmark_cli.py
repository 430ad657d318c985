"""`./run benchmark`: listings, report, exit codes, and Ctrl-C writing the report of what finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchmark_helpers import FIXTURES, HAS_BWRAP, make_challenge, write_script, writes_then_finishes
from typer.testing import CliRunner

from benchmark.cli import app

ROOT = Path(__file__).resolve().parent.parent
AGB = str(FIXTURES / "agbenchmark")
LOCAL = str(FIXTURES / "local")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("AUTOGPT_"):
            monkeypatch.delenv(key)
    if not HAS_BWRAP:
        monkeypatch.setenv("AUTOGPT_SANDBOX", "none")
    monkeypatch.chdir(tmp_path)  # reports/ and .env lookups stay in the test's folder


def invoke(*args: str):  # -> click.testing.Result
    return CliRunner().invoke(app, list(args))


def test_listings() -> None:
    r = invoke("categories", "list", "--no-builtin", "--challenges-path", AGB, "--challenges-path", LOCAL, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"code_generation": 1, "coding": 3, "data": 2, "general": 3,
                                    "information_retrieval": 1, "reasoning": 2, "scrape_synthesize": 2}
    r = invoke("tests", "list", "--no-builtin", "--challenges-path", AGB, "--tests-path",
               str(FIXTURES / "python_tests"), "--category", "coding", "--json")
    assert r.exit_code == 0 and [t["name"] for t in json.loads(r.stdout)] == ["ReadFile", "WriteFile", "ThreeSum"]
    r = invoke("tests", "list", "--no-builtin", "--challenges-path", AGB)
    assert r.exit_code == 0 and "ThreeSum" in r.stdout and "TestWriteFile" in r.stdout
    r = invoke("tests", "details", "TestThreeSum", "--no-builtin", "--challenges-path", AGB)  # agbenchmark's name
    assert r.exit_code == 0, r.output
    for text in ("Create a three_sum function", "coding, general", "TestWriteFile", "60", "[0, 2, 5]", "python",
                 "basic", "The three_sum function coded properly."):
        assert text in r.stdout, text
    r = invoke("tests", "details", "ThreeSum", "--no-builtin", "--challenges-path", AGB, "--json")
    assert json.loads(r.stdout)["ground"]["files"] == ["test.py"]


def test_usage_errors_exit_2_agent_errors_exit_1(tmp_path: Path) -> None:
    r = invoke("--no-builtin", "--challenges-path", AGB, "--test", "Nope", "--mock")
    assert r.exit_code == 2
    assert r.stderr.strip() == "error: no challenge or test named 'Nope'; see ./run benchmark tests list"
    r = invoke("--no-builtin", "--challenges-path", AGB, "--agent", "x", "--host", "http://127.0.0.1:9")
    assert r.exit_code == 2 and "give only one" in r.stderr
    r = invoke("--no-builtin", "--challenges-path", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "no such folder" in r.stderr
    r = invoke("--no-builtin", "--challenges-path", AGB, "--category", "cooking")
    assert r.exit_code == 2 and "known: coding, data, general, scrape_synthesize" in r.stderr
    r = invoke("tests", "details", "Nope", "--no-builtin", "--challenges-path", AGB)
    assert r.exit_code == 2
    r = invoke("--no-builtin", "--challenges-path", AGB, "--mock", "--host", "http://127.0.0.1:9")
    assert r.exit_code == 1 and "no agent answers at http://127.0.0.1:9" in r.stderr
    r = invoke("report")
    assert r.exit_code == 2 and "no benchmark runs in reports" in r.stderr
    for line in (r.stderr or "").splitlines():
        assert "Traceback" not in line


def test_provider_keys_come_from_the_users_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A judge model's key in ~/.config/autogpt/.env reaches the run, as `autogpt run` reads it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config" / "autogpt").mkdir(parents=True)
    (tmp_path / "config" / "autogpt" / ".env").write_text("BENCH_TEST_JUDGE_KEY=from-user-file\n")
    seen: dict[str, str | None] = {}

    def fake_run(options, progress=None, **kw):
        from benchmark.agents import AgentStartError

        seen["key"] = os.environ.get("BENCH_TEST_JUDGE_KEY")
        raise AgentStartError("stopped by the test")

    monkeypatch.setattr("benchmark.runner.run_benchmark", fake_run)
    try:
        r = invoke("--no-builtin", "--challenges-path", AGB, "--mock")
    finally:
        os.environ.pop("BENCH_TEST_JUDGE_KEY", None)
    assert r.exit_code == 1 and "stopped by the test" in r.stderr
    assert seen["key"] == "from-user-file"


def test_run_then_report(tmp_path: Path) -> None:
    r = invoke("--no-builtin", "--challenges-path", AGB, "--mock", "--parallel", "3")
    assert r.exit_code == 0, r.output
    assert "ThreeSum" in r.stdout and "pass@1 100.0%" in r.stdout and "Report: reports/" in r.stdout
    run_id = next(Path("reports").iterdir()).name
    again = invoke("report")
    assert again.exit_code == 0 and f"Benchmark {run_id} (mock)" in again.stdout and "WriteFile" in again.stdout
    assert (Path("reports") / run_id / "report.html").is_file() and "report.html" in again.stdout
    compared = invoke("compare", run_id, "latest")
    assert compared.exit_code == 0 and "No regressions" in compared.stdout, compared.output
    assert compared.stdout.count("pass@1") == 2  # the overall row and the category table's title
    assert invoke("compare", "nope").exit_code == 2
    as_json = invoke("report", run_id, "--json")
    assert json.loads(as_json.stdout)["run_id"] == run_id
    r = invoke("--no-builtin", "--challenges-path", AGB, "--mock", "--test", "WriteFile", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["tests"]["WriteFile"]["metrics"]["success_%"] == 100.0


def test_mounted_in_run_script() -> None:
    r = subprocess.run([str(ROOT / "run"), "benchmark", "tests", "list", "--no-builtin", "--challenges-path", AGB,
                        "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert {t["name"] for t in json.loads(r.stdout)} == {"ReadFile", "WriteFile", "ThreeSum"}
    # Piped into a file, a table is not cut to 80 columns (a benchmark's summary in a log stays readable).
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    table = subprocess.run([str(ROOT / "run"), "benchmark", "tests", "list"], capture_output=True, text=True,
                           timeout=120, env=env)
    assert table.returncode == 0 and max(len(line) for line in table.stdout.splitlines()) > 100


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize(("sig", "background"), [(signal.SIGINT, False), (signal.SIGTERM, False),
                                               (signal.SIGTERM, True)], ids=["ctrl-c", "sigterm", "sigterm-nohup"])
def test_ctrl_c_writes_the_report_of_what_finished(tmp_path: Path, sig: signal.Signals, background: bool) -> None:
    """Ctrl-C, or SIGTERM: also in a background job or under nohup, where SIGINT is ignored."""
    root = tmp_path / "challenges"
    make_challenge(root, "AFirst", files=["out.txt"], should_contain=["done"])
    make_challenge(root, "BSecond", files=["out.txt"], should_contain=["done"])
    model = write_script(tmp_path / "agent.json", writes_then_finishes("out.txt", "done", sleep=3))
    cmd = [sys.executable, "-c", "from benchmark.cli import app; app()", "--no-builtin", "--challenges-path",
           str(root), "--model", model]
    ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=ignore_sigint)
    try:
        # BSecond's task folder appears once AFirst is done (one attempt at a time)
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("reports/*/workspace/agents/task-*"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "interrupted: the report holds what finished" in err and "Traceback" not in err
    report = json.loads(next(tmp_path.glob("reports/*/report.json")).read_text())
    assert report["interrupted"] is True
    assert report["tests"]["AFirst"]["results"][0]["success"] is True
    assert report["tests"]["BSecond"]["results"] == []
    assert report["tests"]["BSecond"]["metrics"]["skipped"] == "interrupted"
    assert report["completion_time"] is not None
    assert not (tmp_path / "reports" / "history.json").exists()
    assert _processes_mentioning(str(tmp_path / "reports")) == []  # the agent server it started is stopped
