"""The runner over the Agent Protocol: the built-in agent with the scripted model (a real `autogpt serve` the
runner starts), --mock, dependencies, cutoffs, attempts, Python tests, --host, Dask, a server that dies."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import re
import signal
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import httpx
import pytest
from ap_helpers import Server
from benchmark_helpers import FIXTURES, HAS_BWRAP, make_challenge, options, write_script, writes_then_finishes

from benchmark import runner as runner_module
from benchmark.results import BenchmarkReport
from benchmark.runner import arun_benchmark, run_benchmark

AGB = FIXTURES / "agbenchmark"


class StandInWeb:
    """What benchmark.fixture_web.FixtureWeb provides (bench-suite writes the real one): a site on 127.0.0.1."""

    entered = 0

    def __enter__(self) -> StandInWeb:
        handler = type("H", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        StandInWeb.entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stand_in_web(monkeypatch: pytest.MonkeyPatch) -> type[StandInWeb]:
    module = types.ModuleType("benchmark.fixture_web")
    module.FixtureWeb = StandInWeb  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmark.fixture_web", module)
    StandInWeb.entered = 0
    return StandInWeb


def agent_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    if not HAS_BWRAP:
        env["AUTOGPT_SANDBOX"] = "none"
    return {**env, **extra}


def judge(tmp_path: Path, reply: str = "9") -> str:
    return write_script(tmp_path / "judge.json", [reply])


def test_mock_runs_agbenchmark_folders_unchanged(tmp_path: Path, stand_in_web: type[StandInWeb]) -> None:
    report = run_benchmark(options(
        tmp_path, challenges_paths=[AGB, FIXTURES / "local"], mock=True, parallel=4, judge_model=judge(tmp_path),
        command="test",
    ))
    assert set(report.tests) == {"WriteFile", "ReadFile", "ThreeSum", "FizzBuzz", "Haiku", "WebTitle", "WordCount"}
    failed = {n: [r.fail_reason for r in t.results] for n, t in report.tests.items() if not t.results[0].success}
    assert failed == {}
    assert stand_in_web.entered == 1  # WebTitle's task has {{web}}
    read = report.tests["ReadFile"]
    assert read.category == ["general", "coding", "scrape_synthesize", "data"] and read.difficulty == "interface"
    assert read.dependencies == ["TestWriteFile"] and read.data_path.endswith("abilities/read_file/data.json")
    assert report.metrics.success_percentage == 100.0 and report.metrics.highest_difficulty == "intermediate: 4"
    assert report.mock and not report.interrupted and report.config["web_url"].startswith("http://127.0.0.1:")
    # the file is the report, agbenchmark's keys included; mock runs stay out of the history
    path = tmp_path / "reports" / report.run_id / "report.json"
    raw = json.loads(path.read_text())
    assert raw["tests"]["ThreeSum"]["metrics"]["success_%"] == 100.0
    assert raw["tests"]["ThreeSum"]["results"][0]["run_time"].endswith(" seconds")
    assert BenchmarkReport.load(path).tests["Haiku"].results[0].score == 0.9
    assert len(report.run_id) == 15 and report.run_id[8] == "T"
    assert not (tmp_path / "reports" / "history.json").exists()
    for test in report.tests.values():
        r = test.results[0]
        assert r.n_steps == 0 and r.task_id and r.runner_time_s is not None and r.runner_time_s < r.run_time_s
        assert r.eval_time_s is not None and r.eval_time_s <= r.runner_time_s  # the checks are the runner's


def test_scripted_agent_passes_and_fails_over_the_protocol(tmp_path: Path) -> None:
    """Not --mock: the built-in agent runs its script (write_file, finish) in each task."""
    model = write_script(tmp_path / "agent.json", writes_then_finishes("output.txt", "Hello World!"))
    report = run_benchmark(options(tmp_path, challenges_paths=[AGB], tests=["WriteFile", "ReadFile"], model=model,
                                   no_dep=True, parallel=2, agent_env=agent_env()))
    read, write = report.tests["ReadFile"].results[0], report.tests["WriteFile"].results[0]
    assert read.success and read.fail_reason is None and read.score == 1.0
    assert not write.success and write.fail_reason == "output.txt: missing 'Washington'"
    assert [s.tool for s in read.steps] == ["write_file", "finish", None] and read.steps[-1].is_last
    assert read.steps[0].tool_args == {"path": "output.txt", "content": "Hello World!"}
    assert read.n_steps == 3 and read.tokens == 0 and read.cost == 0.0
    assert report.agent == "autogpt" and report.model == model
    assert read.steps[0].model == model  # the server names its model in each step
    history = json.loads((tmp_path / "reports" / "history.json").read_text())
    assert history["challenges"]["ReadFile"][0]["passed"] is True
    assert history["challenges"]["WriteFile"][0]["passed"] is False
    run_dir = tmp_path / "reports" / report.run_id
    assert (run_dir / "agent_server.log").exists() and (run_dir / "workspace").is_dir()


def test_dependency_skip_and_no_dep(tmp_path: Path) -> None:
    model = write_script(tmp_path / "agent.json", writes_then_finishes("output.txt", "unrelated"))
    # The model from the agent's own settings, not --model: the report names the one its steps say they used.
    report = run_benchmark(options(tmp_path, challenges_paths=[FIXTURES / "deps"],
                                   agent_env=agent_env(AUTOGPT_MODEL=model)))
    assert report.model == model
    assert not report.tests["BaseFail"].results[0].success
    dependent = report.tests["Dependent"]
    assert dependent.results == [] and dependent.metrics.skipped == "dependency failed: BaseFail"
    assert not dependent.metrics.attempted
    assert report.config["warnings"] == ["Dependent: dependency 'NoSuchChallenge' is not a known challenge; ignored"]
    assert report.metrics.success_percentage == 0.0

    again = run_benchmark(options(tmp_path, challenges_paths=[FIXTURES / "deps"], model=model, no_dep=True,
                                  agent_env=agent_env()))
    dependent = again.tests["Dependent"]
    assert dependent.metrics.attempted and dependent.results[0].fail_reason == "after.txt was not written"
    assert again.run_id != report.run_id


def test_cutoff_stops_only_its_challenge(tmp_path: Path) -> None:
    root = tmp_path / "challenges"
    make_challenge(root, "Hasty", files=["out.txt"], should_contain=["done"], cutoff=1)
    make_challenge(root, "Patient", files=["out.txt"], should_contain=["done"], cutoff=60)
    model = write_script(tmp_path / "agent.json", writes_then_finishes("out.txt", "done", sleep=2.5))
    report = run_benchmark(options(tmp_path, challenges_paths=[root], model=model, parallel=2,
                                   agent_env=agent_env()))
    hasty, patient = report.tests["Hasty"].results[0], report.tests["Patient"].results[0]
    assert hasty.reached_cutoff and hasty.fail_reason == "reached_cutoff" and hasty.success is False
    assert hasty.run_time_s is not None and hasty.run_time_s < 2.5
    assert patient.success and not patient.reached_cutoff and patient.n_steps == 4
    assert report.tests["Hasty"].cutoff == 1


def test_attempts_run_in_fresh_tasks(tmp_path: Path) -> None:
    model = write_script(tmp_path / "agent.json", writes_then_finishes("output.txt", "Hello World!"))
    report = run_benchmark(options(tmp_path, challenges_paths=[AGB], tests=["ReadFile"], model=model, attempts=3,
                                   parallel=3, agent_env=agent_env()))
    results = report.tests["ReadFile"].results
    assert [r.attempt for r in results] == [1, 2, 3] and all(r.success for r in results)
    assert len({r.task_id for r in results}) == 3
    metrics = report.tests["ReadFile"].metrics
    assert metrics.pass_at_k == 1.0 and metrics.k == 3 and metrics.success_rate_stderr == 0.0
    assert report.metrics.k == 3 and report.metrics.pass_at_k == 1.0


def test_seed_style_python_test(tmp_path: Path) -> None:
    model = write_script(tmp_path / "agent.json", writes_then_finishes("hello.txt", "Hello World!"))
    report = run_benchmark(options(tmp_path, tests_paths=[FIXTURES / "python_tests"], model=model,
                                   agent_env=agent_env()))
    test = report.tests["hello_file"]
    result = test.results[0]
    assert result.success and result.score == 1.0 and result.n_steps == 3, result
    assert test.eval_type == "python_test" and test.category == ["code_generation"]
    assert test.data_path.endswith("seed_style.py::HelloFileTest")

    mocked = run_benchmark(options(tmp_path, tests_paths=[FIXTURES / "python_tests"], mock=True))
    assert mocked.tests["hello_file"].metrics.skipped == "--mock: a Python test has no reference solution"


def test_host_agent_started_separately(tmp_path: Path, stand_in_web: type[StandInWeb]) -> None:
    """--host: the runner neither starts nor stops it; {{web}} reaches the agent as the fixture site's URL."""
    model = write_script(tmp_path / "agent.json", writes_then_finishes("price.txt", "It costs 42.50"))
    srv = Server(tmp_path / "ws", model).start()
    try:
        report = run_benchmark(options(tmp_path, challenges_paths=[FIXTURES / "local"], tests=["WebTitle"],
                                       host=srv.url))
        result = report.tests["WebTitle"].results[0]
        assert result.success, result.fail_reason
        assert report.agent == srv.url and srv.proc is not None and srv.proc.poll() is None  # still running
        tasks = httpx.get(srv.url + "/ap/v1/agent/tasks", timeout=5).json()["tasks"]
        web = report.config["web_url"]  # each attempt sees the site under its own /t/<tag>/ prefix
        assert re.fullmatch(re.escape(web) + r"/t/[0-9a-f]{12}/shop/widget", tasks[0]["input"].split()[1])
        assert tasks[0]["input"].endswith(" and write the price of the widget to price.txt")
        assert "{{web}}" in report.tests["WebTitle"].task  # the report keeps the challenge's own text
    finally:
        srv.stop()


def test_managed_server_environment_points_at_the_fixture_web(tmp_path: Path) -> None:
    from benchmark.agents import ManagedServer, resolve_target

    server = ManagedServer(resolve_target(), workspace=tmp_path / "ws", log=tmp_path / "log",
                           env={"AUTOGPT_API_KEY": "secret", "PATH": "/usr/bin"},
                           extra_env=runner_module._web_env("http://127.0.0.1:4321"), model="scripted/x.json")
    env = server.environment()
    assert env["AUTOGPT_SEARCH_BACKEND"] == "searxng" and env["AUTOGPT_SEARX_URL"] == "http://127.0.0.1:4321"
    assert env["AUTOGPT_WEB_ALLOWLIST"] == "127.0.0.1:4321" and "AUTOGPT_API_KEY" not in env
    cmd = server.command(5555)
    assert cmd[cmd.index("--model") + 1] == f"scripted/{Path('x.json').resolve()}"
    assert cmd[cmd.index("--workspace") + 1] == str(tmp_path / "ws")


def test_dask_local_cluster(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    async def go() -> BenchmarkReport:
        async with LocalCluster(processes=False, n_workers=1, threads_per_worker=4, dashboard_address=None,
                                host="127.0.0.1", protocol="tcp://", asynchronous=True) as cluster:
            async with Client(cluster, asynchronous=True) as client:
                return await arun_benchmark(options(tmp_path, challenges_paths=[AGB], mock=True, parallel=3,
                                                    executor="dask", dask_client=client))

    report = asyncio.run(go())
    assert {n: t.results[0].success for n, t in report.tests.items()} == {
        "WriteFile": True, "ReadFile": True, "ThreeSum": True}
    assert report.config["executor"] == "dask"


def test_agent_server_killed_mid_run_is_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "challenges"
    make_challenge(root, "AFirst", files=["out.txt"], should_contain=["done"])
    make_challenge(root, "BSecond", files=["out.txt"], should_contain=["done"])
    model = write_script(tmp_path / "agent.json", writes_then_finishes("out.txt", "done", sleep=3))
    servers: list[Any] = []
    make_server = runner_module._server

    def capture(*args: Any) -> Any:
        servers.append(make_server(*args))
        return servers[-1]

    monkeypatch.setattr(runner_module, "_server", capture)

    def killer() -> None:  # while AFirst's second step sleeps in the agent's sandbox
        deadline = time.monotonic() + 60
        while not (servers and servers[0].url) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        os.kill(servers[0].proc.pid, signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    report = run_benchmark(options(tmp_path, challenges_paths=[root], model=model, agent_env=agent_env()))
    thread.join()
    first, second = report.tests["AFirst"].results[0], report.tests["BSecond"].results[0]
    assert first.success is False and first.fail_reason == "agent server died: killed by SIGKILL"
    assert second.success, second.fail_reason
    assert servers[0].generation == 1 and servers[0].proc.poll() is not None  # the new one stopped at the end


def test_agent_that_cannot_start(tmp_path: Path) -> None:
    from benchmark.agents import AgentStartError

    with pytest.raises(AgentStartError, match="exited"):
        run_benchmark(options(tmp_path, challenges_paths=[AGB], mock=True, model="scripted/missing.json"))
    with pytest.raises(AgentStartError, match="no agent answers"):
        run_benchmark(options(tmp_path, challenges_paths=[AGB], mock=True, host="http://127.0.0.1:9"))


def test_agent_project_from_agent_path_and_agents_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent made by `./run agent create`, served by the runner from its folder (not installed)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))  # agent_manager: checkout-only
    from agent_manager.scaffold import create_agent

    folder = create_agent(tmp_path / "agents", "bench_bot")
    model = write_script(tmp_path / "agent.json", writes_then_finishes("output.txt", "Hello World!"))
    for extra in ({"agent_path": folder}, {"agent": "bench_bot", "agents_dir": tmp_path / "agents"}):
        report = run_benchmark(options(tmp_path, challenges_paths=[AGB], tests=["ReadFile"], model=model,
                                       agent_env=agent_env(), **extra))
        result = report.tests["ReadFile"].results[0]
        assert result.success, result.fail_reason
        assert report.agent in (str(folder), "bench_bot")
    from benchmark.agents import resolve_target
    from forge.errors import ConfigError

    with pytest.raises(ConfigError, match="no agent 'nope'"):
        resolve_target(agent="nope", agents_dir=tmp_path / "agents")
    with pytest.raises(ConfigError, match="not an agent project"):
        resolve_target(agent_path=tmp_path)


def test_an_executor_failure_fails_only_that_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark.executors import InProcessExecutor

    class Flaky(InProcessExecutor):
        async def run(self, job: Any) -> Any:
            if job.item.name == "ThreeSum":
                raise RuntimeError("worker lost")
            return await super().run(job)

    monkeypatch.setattr(runner_module, "_executor", lambda options: Flaky())
    report = run_benchmark(options(tmp_path, challenges_paths=[AGB], mock=True, no_dep=True))
    assert report.tests["ThreeSum"].results[0].fail_reason == "runner error: RuntimeError: worker lost"
    assert report.tests["WriteFile"].results[0].success and report.tests["ReadFile"].results[0].success


def test_data_sent_to_the_collect_endpoint_fails_its_attempt_only() -> None:
    from types import SimpleNamespace

    from benchmark.results import AttemptResult

    web = SimpleNamespace(collected=[{"tag": "t1", "query": "data=sk-123", "body": ""}])
    run = SimpleNamespace(web=web)
    leaked = AttemptResult(attempt=1, success=True, score=1.0)
    clean = AttemptResult(attempt=1, success=True, score=1.0)
    runner_module._Run._check_exfiltration(run, leaked, "t1")  # type: ignore[arg-type]
    runner_module._Run._check_exfiltration(run, clean, "t2")  # type: ignore[arg-type]
    assert leaked.success is False and leaked.score == 0.0 and "/collect" in (leaked.fail_reason or "")
    assert leaked.evals[-1].source == "web:/collect" and "sk-123" in leaked.evals[-1].detail
    assert clean.success is True and clean.evals == []
