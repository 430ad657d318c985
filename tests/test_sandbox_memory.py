"""The memory limit is a total over the sandbox's processes, through each mechanism this machine has.

Each mechanism is forced in turn (`code_memory_mechanism`); one this machine cannot provide is
skipped with the reason the probe gives.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from forge.config import Settings
from forge.errors import ConfigError
from forge.tools import sandbox_memory
from forge.tools.sandbox import run_python
from forge.tools.sandbox_memory import CGROUP_PREFIX, open_guard, unavailable

HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()
MODES = ["none", pytest.param("bwrap", marks=[pytest.mark.sandbox, pytest.mark.skipif(
    not HAS_BWRAP, reason="bubblewrap is not installed")])]
FORCED = ["cgroup2", "cgroup1", "watchdog"]

SIX_PROCESSES = """
import subprocess, sys
child = "import time; x = b'a' * (150 * 2**20); print('holding', flush=True); time.sleep(30)"
procs = [subprocess.Popen(['/usr/bin/python3', '-c', child, '{marker}']) for _ in range(6)]
print('exit codes', [p.wait() for p in procs], flush=True)
"""
ONE_PROCESS = "x = b'a' * (400 * 2**20)\nprint('allocated', len(x) // 2**20, 'MB')"


def make_settings(mode: str, mechanism: str) -> Settings:
    return Settings(_env_file=None, sandbox=mode, code_memory_mechanism=mechanism, code_memory_mb=512,
                    code_timeout=40, code_max_processes=32)


def skip_unless_available(mechanism: str) -> None:
    why = unavailable(mechanism)
    if why:
        pytest.skip(f"{mechanism} cannot work on this machine: {why}")


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


def our_cgroups() -> list[Path]:
    """Cgroup folders this test process made and left behind, wherever the guards make them."""
    parents = [*sandbox_memory._v2_candidates(), sandbox_memory._v1_folder("memory"), sandbox_memory._v1_folder("pids")]
    return [f for p in parents if p is not None and p.is_dir() for f in p.glob(f"{CGROUP_PREFIX}{os.getpid()}-*")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mechanism", FORCED)
def test_six_processes_of_150_mb_are_killed_together(tmp_path: Path, mode: str, mechanism: str) -> None:
    skip_unless_available(mechanism)
    marker = f"mem-{uuid.uuid4().hex}"
    started = time.monotonic()
    result = run_python(tmp_path / "ws", make_settings(mode, mechanism), code=SIX_PROCESSES.format(marker=marker))
    assert result.killed_reason == "the sandbox's processes used more than 512 MB together", result.observation()
    assert result.exit_code is None and not result.ok
    assert "exit codes" not in result.output  # the parent never saw its children finish
    assert time.monotonic() - started < 20  # killed, not timed out (the children sleep 30 s, the limit is 40 s)
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []
    assert our_cgroups() == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mechanism", FORCED)
def test_one_process_of_400_mb_passes(tmp_path: Path, mode: str, mechanism: str) -> None:
    skip_unless_available(mechanism)
    result = run_python(tmp_path / "ws", make_settings(mode, mechanism), code=ONE_PROCESS)
    assert result.ok and result.output == "allocated 400 MB\n", result.observation()
    assert our_cgroups() == []


def test_auto_picks_the_first_mechanism_that_works() -> None:
    expected = next(m for m in FORCED if unavailable(m) is None)
    guard = open_guard("auto", 512, 16)
    try:
        assert guard.mechanism == expected
    finally:
        guard.close()
    assert our_cgroups() == []


def test_a_forced_mechanism_that_cannot_work_names_the_fix(tmp_path: Path) -> None:
    missing = [m for m in FORCED if unavailable(m)]
    if not missing:
        pytest.skip("every mechanism works on this machine")
    with pytest.raises(ConfigError, match=r"AUTOGPT_CODE_MEMORY_MECHANISM=auto"):
        run_python(tmp_path / "ws", make_settings("none", missing[0]), code="print(1)")
    with pytest.raises(ConfigError, match=r"unknown code memory mechanism 'cgroup3'.*auto, cgroup2"):
        run_python(tmp_path / "ws", make_settings("none", "cgroup3"), code="print(1)")


def test_cgroups_left_by_a_dead_agent_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    mechanism = next((m for m in ("cgroup2", "cgroup1") if unavailable(m) is None), None)
    if mechanism is None:
        pytest.skip("no cgroup mechanism works on this machine")
    probe = open_guard(mechanism, 64, 8)
    assert isinstance(probe, sandbox_memory._Cgroup)
    parent = probe.folders[0].parent
    probe.close()
    dead_pid = 4_000_000  # above pid_max's ceiling (2**22): never a live process
    stale = parent / f"{CGROUP_PREFIX}{dead_pid}-0"
    stale.mkdir()
    live = parent / f"{CGROUP_PREFIX}{os.getpid()}-999999"  # ours, still alive: must stay
    live.mkdir()
    try:
        open_guard(mechanism, 64, 8).close()
        assert not stale.exists() and live.exists()
    finally:
        for folder in (stale, live):
            if folder.exists():
                folder.rmdir()


def test_a_cgroup_also_catches_children_that_left_the_session(tmp_path: Path) -> None:
    """In `none` mode the session is how leftovers are found, and setsid() leaves it; a cgroup
    holds every descendant whatever it does."""
    mechanism = next((m for m in ("cgroup2", "cgroup1") if unavailable(m) is None), None)
    if mechanism is None:
        pytest.skip("no cgroup mechanism works on this machine")
    marker = f"escaped-{uuid.uuid4().hex}"
    code = ("import subprocess\n"
            f"subprocess.Popen(['/usr/bin/python3', '-c', 'import time; time.sleep(60)', '{marker}'],"
            " start_new_session=True)\nprint('left one behind')")
    result = run_python(tmp_path / "ws", make_settings("none", mechanism), code=code)
    assert result.ok and "left one behind" in result.output
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []
    assert our_cgroups() == []
