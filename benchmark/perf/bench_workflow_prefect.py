"""The same 1,000-node chain and fan-out in Prefect 3, for scale: overhead ratio vs our engine.

Prefect is NOT a dependency of this project: install it in its own venv and point the script at it.

    python3 -m venv /tmp/prefect-venv && /tmp/prefect-venv/bin/pip install prefect
    python benchmark/perf/bench_workflow_prefect.py --prefect-python /tmp/prefect-venv/bin/python

Prefect runs offline with its ephemeral API (a temporary PREFECT_HOME, analytics off). Its timing
covers the flow run only (imports and the ephemeral server's start are reported apart); ours covers
the whole run, validation and event log included. If Prefect is missing or cannot run offline, the
script says so and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmark.perf.bench_workflow_engine import chain, fan_out, measure  # noqa: E402

PREFECT_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from prefect import flow, task
imported = time.perf_counter() - t0
N = int(sys.argv[1])

@task
def noop(value=None):
    return value

@flow
def chain():
    value = 0
    for _ in range(N):
        value = noop(value)
    return value

@flow
def fan_out():
    root = noop.submit(1)
    futures = [noop.submit(root) for _ in range(N - 1)]
    return [f.result() for f in futures]

@flow
def warm():
    return noop(1)

t = time.perf_counter(); warm(); warmup = time.perf_counter() - t   # starts the ephemeral API
t = time.perf_counter(); chain(); chain_s = time.perf_counter() - t
t = time.perf_counter(); fan_out(); fan_s = time.perf_counter() - t
print("RESULT " + json.dumps({"import_s": imported, "warmup_s": warmup, "chain_s": chain_s, "fan_out_s": fan_s}))
"""


def run_prefect(python: str, nodes: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
            "PREFECT_HOME": home,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
            "DO_NOT_TRACK": "1",
        }
        script = Path(home) / "bench_prefect.py"
        script.write_text(PREFECT_SCRIPT)
        proc = subprocess.run([python, str(script), str(nodes)], capture_output=True, text=True, env=env,
                              timeout=timeout, cwd=home)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    raise RuntimeError(f"exit {proc.returncode}: " + " | ".join(tail))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefect-python", default="/tmp/prefect-venv/bin/python",
                        help="Python interpreter of a venv with prefect installed")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    n = args.nodes
    ours = {"chain": measure(chain(n), 16, 3)[0], "fan_out": measure(fan_out(n), 16, 3)[0]}
    print(f"ours     chain {ours['chain']:.3f} s ({ours['chain'] * 1000 / n:.3f} ms/node), "
          f"fan-out {ours['fan_out']:.3f} s ({ours['fan_out'] * 1000 / n:.3f} ms/node)")
    if not Path(args.prefect_python).exists():
        print(f"prefect  not measured: {args.prefect_python} does not exist; install Prefect in its own venv "
              "(see this script's docstring)")
        return 1
    try:
        p = run_prefect(args.prefect_python, n, args.timeout)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        print(f"prefect  could not run offline here: {e}")
        return 1
    print(f"prefect  import {p['import_s']:.2f} s, first flow (ephemeral API start) {p['warmup_s']:.2f} s")
    print(f"prefect  chain {p['chain_s']:.3f} s ({p['chain_s'] * 1000 / n:.3f} ms/node), "
          f"fan-out {p['fan_out_s']:.3f} s ({p['fan_out_s'] * 1000 / n:.3f} ms/node)")
    print(f"ratio    Prefect / ours: chain {p['chain_s'] / ours['chain']:.0f}x, "
          f"fan-out {p['fan_out_s'] / ours['fan_out']:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
