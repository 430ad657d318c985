"""`./run agent start NAME --no-setup` until /heartbeat answers: median of 5 (target < 3 s).

Times the whole command as a user runs it (the `run` script, spawning `autogpt serve`, polling
/heartbeat; it returns once the server is healthy), for a freshly created agent and for the
built-in `autogpt`, each stopped again between runs. Then one server start under
`python -X importtime` lists the slowest imports and whether litellm, chromadb or llama_cpp
are imported at start-up. Everything runs in temporary folders on 127.0.0.1.

    python benchmark/perf/bench_agent_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "run"
HEAVY = ("litellm", "chromadb", "llama_cpp", "dask", "onnxruntime", "tiktoken", "playwright")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_agent(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(RUN), "agent", *args], env=env, capture_output=True, text=True)  # as a user types it
    if result.returncode != 0:
        raise SystemExit(f"./run agent {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def time_starts(env: dict[str, str], name: str, runs: int, extra: list[str]) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        run_agent(env, "start", name, "--no-setup", "--port", str(port), *extra)
        times.append(time.perf_counter() - t0)
        run_agent(env, "stop", name)
    return times


def import_profile(env: dict[str, str], workspace: Path, agent: str | None) -> tuple[list[tuple[float, str]], float]:
    """(slowest top-level imports as (seconds, module), total import seconds) of one server start."""
    port = free_port()
    cmd = [str(ROOT / ".venv/bin/python"), "-X", "importtime", str(ROOT / ".venv/bin/autogpt"), "serve",
           "--port", str(port), "--workspace", str(workspace)] + (["--agent", agent] if agent else [])
    log = workspace / "importtime.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                opener.open(f"http://127.0.0.1:{port}/heartbeat", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    top: dict[str, float] = {}
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for line in log.read_text().splitlines():
        m = pattern.match(line)
        if m and len(m.group(3)) == 1:  # top-level imports only (their cumulative time includes children)
            root = m.group(4).split(".")[0]
            top[root] = top.get(root, 0.0) + int(m.group(2)) / 1e6
    return sorted(((t, mod) for mod, t in top.items()), reverse=True), sum(top.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
        env.update(RUN_AGENTS_DIR=str(base / "agents"), RUN_STATE_DIR=str(base / "state"))
        name = "bench_start_agent"
        run_agent(env, "create", name)
        script = base / "script.json"
        script.write_text('[{"thoughts": {"text": "done"}, "tool": "finish", "tool_args": {"reason": "ok"}}]')
        model = ["--model", f"scripted/{script}"]
        print(f"./run agent start --no-setup -> /heartbeat, {args.runs} runs each (load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        for label, agent, extra in ((name, name, model), ("autogpt (built-in)", "autogpt", model),
                                    ("autogpt, default model", "autogpt", [])):
            ws = ["--workspace", str(base / "ws")] if agent == "autogpt" else []
            times = time_starts(env, agent, args.runs, extra + ws)
            print(f"  {label:24s} median {statistics.median(times):.2f} s  "
                  f"(min {min(times):.2f}, max {max(times):.2f}; target < 3 s)")
        (base / "prof").mkdir()
        profile, total = import_profile(env | {"PYTHONPATH": str(base / "agents" / name)}, base / "prof",
                                        f"{name}.agent:{name.title().replace('_', '')}")
        print(f"server imports at start-up: {total:.2f} s in all; slowest top-level modules:")
        for seconds, module in profile[:8]:
            print(f"  {seconds:6.3f} s  {module}")
        loaded = {m for _, m in profile}
        print("heavy modules imported at start-up: " + (", ".join(h for h in HEAVY if h in loaded) or "none"))


if __name__ == "__main__":
    main()
