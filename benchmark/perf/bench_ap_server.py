"""Agent Protocol server throughput and latency, side by side with the reference SDK server.

16 concurrent keep-alive connections from one asyncio load generator (a minimal HTTP/1.1 client, so
the generator costs little of the 2 cores it shares with the server) hit, for DURATION seconds each:
`POST /ap/v1/agent/tasks` and `GET /ap/v1/agent/tasks/{id}`. First `autogpt serve` (scripted model),
then the reference `agent-protocol` 1.0.2 SDK server (its own venv, made once under the cache dir,
from the configured package index), with the same generator. Then the step overhead: `POST .../steps`
latency with the scripted model minus the scripted model's own time per call.
Targets: >= 700 req/s for each endpoint, p99 < 50 ms; step overhead < 5 ms p50.

    python benchmark/perf/bench_ap_server.py [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
AUTOGPT = str(Path(sys.executable).parent / "autogpt")
CONNECTIONS = 16
SDK = "agent-protocol==1.0.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autogpt-bench" / "agent-protocol-sdk"
SDK_SERVER = """
import sys
from agent_protocol import Agent, Step, Task

async def task_handler(task: Task) -> None:
    pass

async def step_handler(step: Step) -> Step:
    step.is_last = True
    return step

Agent.setup_agent(task_handler, step_handler).start(port=int(sys.argv[1]))
"""


# The load generator --------------------------------------------------------------------------
async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = head.decode("latin-1").lower()
    if m := re.search(r"content-length:\s*(\d+)", headers):
        return status, await reader.readexactly(int(m.group(1)))
    body = b""
    while True:  # chunked
        size = int((await reader.readline()).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


def request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def load(port: int, make: Callable[[int], bytes], seconds: float, keep: list[bytes] | None = None
               ) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0

    async def worker(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = n
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(make(i))
            status, body = await read_response(reader)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1
            elif keep is not None and len(keep) < 2000:
                keep.append(body)
            i += CONNECTIONS
        writer.close()

    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(worker(n) for n in range(CONNECTIONS)))
    return len(latencies) / (time.perf_counter() - start), latencies, errors


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Result = tuple[float, float, float, int, float]  # req/s, p50 ms, p99 ms, errors, server CPU ms per request


async def measure(port: int, pid: int, seconds: float) -> dict[str, Result]:
    body = json.dumps({"input": "Write Washington to output.txt", "additional_input": {}}).encode()
    post = request("POST", "/ap/v1/agent/tasks", body)
    await load(port, lambda i: post, 1.0)  # warm-up
    created: list[bytes] = []
    cpu = cpu_seconds(pid)
    rate, lat, errors = await load(port, lambda i: post, seconds, created)
    per_request = (cpu_seconds(pid) - cpu) * 1000 / len(lat)
    results = {"POST /tasks": (rate, pct(lat, 50), pct(lat, 99), errors, per_request)}
    ids = [json.loads(b)["task_id"] for b in created[:1000]]
    gets = [request("GET", f"/ap/v1/agent/tasks/{tid}") for tid in ids]
    cpu = cpu_seconds(pid)
    rate, lat, errors = await load(port, lambda i: gets[i % len(gets)], seconds)
    per_request = (cpu_seconds(pid) - cpu) * 1000 / len(lat)
    results["GET /tasks/{id}"] = (rate, pct(lat, 50), pct(lat, 99), errors, per_request)
    return results


# Servers -------------------------------------------------------------------------------------
def wait_heartbeat(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
            return time.perf_counter() - t0
        except httpx.HTTPError:
            time.sleep(0.01)
    raise SystemExit("server did not answer")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sdk_python() -> Path:
    python = CACHE / "bin" / "python"
    stamp = CACHE / ".installed"
    if not (stamp.exists() and stamp.read_text() == SDK):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CACHE)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SDK], check=True)
        stamp.write_text(SDK)
    return python


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}


def script(path: Path, steps: int) -> str:
    # A cheap tool, so the figure is the framework's and the server's time, not a tool's (write_file
    # fsyncs). Three alternating paths: the same call repeated would trip stuck detection.
    paths = [".", "./", "./."]
    items = [{"thoughts": {"text": f"step {i}"}, "tool": "list_folder",
              "tool_args": {"path": paths[i % 3]}} for i in range(steps)]
    items.append({"thoughts": {"text": "done"}, "tool": "finish", "tool_args": {"reason": "done"}})
    path.write_text(json.dumps(items))
    return f"scripted/{path}"


# Step overhead -------------------------------------------------------------------------------
async def step_latencies(port: int, tasks: int, steps: int) -> tuple[list[float], list[float]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    first, rest = [], []
    for _ in range(tasks):
        writer.write(request("POST", "/ap/v1/agent/tasks", b'{"input": "write files"}'))
        _, body = await read_response(reader)
        tid = json.loads(body)["task_id"]
        for n in range(steps):
            t0 = time.perf_counter()
            writer.write(request("POST", f"/ap/v1/agent/tasks/{tid}/steps", b'{"input": "y"}'))
            status, body = await read_response(reader)
            (first if n == 0 else rest).append(time.perf_counter() - t0)
            assert status == 200 and b'"error"' not in body, body[:300]
    writer.close()
    return first, rest


def model_time(model: str, calls: int) -> float:
    """Median time of the scripted model's own complete() call, in ms."""
    from forge.models.scripted import ScriptedModel
    from forge.models.sync import run_sync

    times = []
    m = ScriptedModel.from_file(model.removeprefix("scripted/"), repeat_last=True)
    msgs = [{"role": "system", "content": "x" * 4000}, {"role": "user", "content": "y" * 2000}]
    for _ in range(calls):
        t0 = time.perf_counter()
        run_sync(m.complete(msgs))  # as the server's worker threads call it (one loop per thread)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ap-"))
    model = script(tmp / "script.json", 20)

    import httpx  # noqa: F401 - imported before the startup clock runs

    port = free_port()
    ours = subprocess.Popen([AUTOGPT, "serve", "--port", str(port), "--model", model, "--workspace", str(tmp / "ws")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), cwd=tmp)
    startup = wait_heartbeat(port, "/heartbeat", ours)
    try:
        mine = asyncio.run(measure(port, ours.pid, args.duration))
        first, rest = asyncio.run(step_latencies(port, 10, 21))
    finally:
        stop(ours)

    ref_port = free_port()
    ref = subprocess.Popen([str(sdk_python()), "-c", SDK_SERVER, str(ref_port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=tmp)
    try:
        wait_heartbeat(ref_port, "/ap/v1/agent/tasks", ref)
        theirs = asyncio.run(measure(ref_port, ref.pid, args.duration))
    finally:
        stop(ref)

    print(f"Agent Protocol servers, {CONNECTIONS} connections, {args.duration:g} s per endpoint (one asyncio client)")
    print(f"load average before: {load_before:.1f} on {os.cpu_count()} cores (other work skews req/s and p99; "
          "server CPU ms per request does not depend on it)")
    print(f"{'endpoint':18} {'server':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms/req':>11}")
    for endpoint in mine:
        for name, res in (("autogpt serve", mine), (SDK, theirs)):
            rate, p50, p99, errors, cpu = res[endpoint]
            print(f"{endpoint:18} {name:22} {rate:8.0f} {p50:8.2f} {p99:8.2f} {errors:7d} {cpu:11.3f}")
        ratio = mine[endpoint][0] / theirs[endpoint][0]
        cpu_ratio = theirs[endpoint][4] / mine[endpoint][4]
        print(f"{'':18} {'ratio (ours/SDK)':22} {ratio:8.2f}x {'':26} {cpu_ratio:10.2f}x less CPU")
    own = model_time(model, 2000)
    p50_rest = statistics.median(rest) * 1000
    print(f"\nstep overhead: POST .../steps p50 {p50_rest:.2f} ms (p99 {pct(rest, 99):.2f} ms) over {len(rest)} steps, "
          f"minus the scripted model's {own:.3f} ms = {p50_rest - own:.2f} ms p50 (target < 5 ms)")
    print(f"  first step of a task (builds its agent): p50 {statistics.median(first) * 1000:.2f} ms over {len(first)}")
    print(f"startup: process start to first healthy /heartbeat {startup:.2f} s (target < 3 s)")


if __name__ == "__main__":
    main()
