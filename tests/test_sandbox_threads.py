"""Sandboxed runs started from many threads at once (the workflow engine runs code blocks from worker
threads): no Python code runs between fork and exec, nothing hangs, and every run gets its own limits.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from forge.config import Settings
from forge.errors import ConfigError
from forge.tools import sandbox, sandbox_memory
from forge.tools.sandbox import run_python
from forge.tools.sandbox_memory import CGROUP_PREFIX, open_guard

HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()
MODES = ["none", pytest.param("bwrap", marks=[pytest.mark.sandbox, pytest.mark.skipif(
    not HAS_BWRAP, reason="bubblewrap is not installed")])]
THREADS, RUNS = 8, 5

PROBE = """
import os, resource
for name in ("AS", "CPU", "FSIZE", "CORE"):
    print(name, *resource.getrlimit(getattr(resource, "RLIMIT_" + name)))
print("NICE", os.getpriority(os.PRIO_PROCESS, 0))
print("CGROUP", " ".join(open("/proc/self/cgroup").read().split()))
"""


def settings_for(mode: str, thread: int) -> Settings:
    # Each thread its own memory and time limits, so a limit applied to the wrong run shows.
    return Settings(_env_file=None, sandbox=mode, code_memory_mb=200 + 8 * thread, code_timeout=20 + thread,
                    code_max_processes=32)


def guard_mechanism() -> str:
    guard = open_guard("auto", 64, 8)
    guard.close()
    return guard.mechanism


def probe(line: str, output: str) -> str:
    return next(ln.split(" ", 1)[1] for ln in output.splitlines() if ln.startswith(line + " "))


@pytest.mark.parametrize("mode", MODES)
def test_concurrent_runs_from_threads_each_get_their_limits(tmp_path: Path, mode: str) -> None:
    nice = min(os.getpriority(os.PRIO_PROCESS, 0) + sandbox.NICE_INCREMENT, 19)
    in_cgroup = guard_mechanism() != "watchdog" and mode == "none"  # bwrap hides it (cgroup namespace)

    def worker(thread: int) -> list[str]:
        settings = settings_for(mode, thread)
        memory = settings.code_memory_mb * 2**20
        cpu = math.ceil(settings.code_timeout) + 1
        problems = []
        for run in range(RUNS):
            result = run_python(tmp_path / f"ws-{thread}-{run}", settings, code=PROBE)
            out = result.output
            if not result.ok:
                problems.append(f"thread {thread} run {run}: {result.observation()}")
                continue
            expected = {"AS": f"{memory} {memory}", "CPU": f"{cpu} {cpu + 1}",
                        "FSIZE": f"{sandbox.FILE_SIZE_MB * 2**20} {sandbox.FILE_SIZE_MB * 2**20}",
                        "CORE": "0 0", "NICE": str(nice)}
            for name, value in expected.items():
                if probe(name, out) != value:
                    problems.append(f"thread {thread} run {run}: {name} is {probe(name, out)}, not {value}")
            if in_cgroup and CGROUP_PREFIX not in probe("CGROUP", out):
                problems.append(f"thread {thread} run {run}: not in its memory cgroup: {probe('CGROUP', out)}")
        return problems

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(worker, t) for t in range(THREADS)]
        problems = [p for f in futures for p in f.result(timeout=300)]  # a hang fails here
    assert problems == []


def test_no_python_runs_between_fork_and_exec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen)
    assert run_python(tmp_path / "ws", Settings(_env_file=None, sandbox="none"), code="print(6 * 7)").output == "42\n"
    assert calls and all(kw.get("preexec_fn") is None for kw in calls)


def test_a_run_whose_cgroup_cannot_be_joined_never_starts_the_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate holds the payload until the parent has applied every limit: when joining the cgroup
    fails, the code must not have run (auto mode then runs it once under the watchdog)."""
    if guard_mechanism() == "watchdog":
        pytest.skip("no memory cgroup can be made on this machine")

    def refuse(self: sandbox_memory.MemoryGuard, pid: int) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sandbox_memory._Cgroup, "join", refuse)
    marker = tmp_path / "ws" / f"ran-{uuid.uuid4().hex}"
    code = f"open({str(marker.name)!r}, 'a').write('x')"
    result = run_python(tmp_path / "ws", Settings(_env_file=None, sandbox="none"), code=code)
    assert result.ok, result.observation()
    assert marker.read_text() == "x"  # once: the attempt inside the unjoinable cgroup never ran it

    forced = Settings(_env_file=None, sandbox="none", code_memory_mechanism=guard_mechanism())
    with pytest.raises(ConfigError, match="could not join"):
        run_python(tmp_path / "ws", forced, code=code)
    assert marker.read_text() == "x"
