"""Harness overhead: a whole suite in --mock mode with --parallel 4 (targets: < 30 s wall for the built-in
suite, < 50 ms of runner time per challenge beyond the agent's own).

--mock still goes through the protocol (a real `autogpt serve` started by the runner: create task, upload
artifacts, download them) and through evaluation (python and pytest checks run in the bubblewrap sandbox).
`runner_time_s` is each attempt's wall time minus the time spent awaiting the agent's HTTP answers, so it is
the harness's own cost: scheduling, file copies and evaluation. Printed per eval type as well, since sandboxed
evals (a process start each) dominate it, and split in two: the checks themselves (`eval_time_s`: the
challenge's scripts or pytest in the sandbox, whose own work the challenge decides, e.g. pytest's start-up)
and the rest (the temporary folder, copying custom_python, building the result).

    python benchmark/perf/bench_harness.py                 # the built-in suite, or the test fixtures without it
    python benchmark/perf/bench_harness.py --fixtures      # tests/fixtures/benchmark only
    python benchmark/perf/bench_harness.py --runs 3 --parallel 4
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "benchmark"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", action="store_true", help="Use the test fixtures, not the built-in suite.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()

    from benchmark.runner import RunOptions, run_benchmark
    from benchmark.spec import discover_challenges

    builtin = not args.fixtures and bool(discover_challenges())
    has_web = importlib.util.find_spec("benchmark.fixture_web") is not None
    with tempfile.TemporaryDirectory() as tmp:
        if builtin:
            paths: list[Path] = []
            tests: list[str] = []
            label = "built-in suite"
        else:
            paths = [FIXTURES / "agbenchmark", FIXTURES / "local"]
            tests = ["WriteFile", "ReadFile", "ThreeSum", "FizzBuzz", "Haiku", "WordCount"]
            tests += ["WebTitle"] if has_web else []
            label = "tests/fixtures/benchmark"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
        walls: list[float] = []
        runner_times: dict[str, list[float]] = {}
        eval_times: dict[str, list[float]] = {}
        failures: list[str] = []
        count = 0
        for i in range(args.runs):
            options = RunOptions(
                challenges_paths=paths, tests=tests, builtin=builtin, mock=True, parallel=args.parallel,
                reports_dir=Path(tmp) / "reports", agent_env=env,  # llm evals: --mock's judge
                command="bench_harness",
            )
            t0 = time.perf_counter()
            report = run_benchmark(options)
            walls.append(time.perf_counter() - t0)
            count = len(report.tests)
            for name, test in report.tests.items():
                for r in test.results:
                    runner_times.setdefault(test.eval_type, []).append(r.runner_time_s or 0.0)
                    eval_times.setdefault(test.eval_type, []).append(r.eval_time_s or 0.0)
                    if not r.success and i == 0:
                        failures.append(f"{name}: {r.fail_reason}")

    every = [t for times in runner_times.values() for t in times]
    print(f"{label}: {count} challenges, --mock --parallel {args.parallel}, {args.runs} runs "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    print(f"  wall time per run (agent server start included): median {statistics.median(walls):.2f} s, "
          f"min {min(walls):.2f} s, max {max(walls):.2f} s")
    checks = [t for times in eval_times.values() for t in times]
    rest = [r - e for kind in runner_times for r, e in zip(runner_times[kind], eval_times[kind], strict=True)]
    print(f"  runner time per challenge: median {ms(every)}, max {max(every) * 1000:.1f} ms; of which the checks "
          f"(sandboxed scripts, pytest) median {ms(checks)}, and the rest median {ms(rest)}")
    for kind, times in sorted(runner_times.items()):
        print(f"    {kind:8s} n={len(times):3d}  median {ms(times)}  max {max(times) * 1000:7.1f} ms  "
              f"(checks median {ms(eval_times[kind])})")
    if failures:
        print(f"  {len(failures)} reference solution(s) failed their own eval:")
        for line in failures:
            print(f"    {line}")


def ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:6.1f} ms"


if __name__ == "__main__":
    main()
