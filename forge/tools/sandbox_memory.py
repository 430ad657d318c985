"""The sandbox's memory limit as a total over all its processes.

RLIMIT_AS bounds each process; without a total, N processes could hold N times the limit. One
guard per run, the first that works here (or the one `code_memory_mechanism` names):
  - cgroup2: a child cgroup with memory.max (no swap), memory.oom.group and a pids.max backstop, where a cgroup
    we may create children in already delegates the memory controller (our own, or its parent);
  - cgroup1: a child of our cgroup in the v1 memory hierarchy (memory.limit_in_bytes, and
    memsw when swap is accounted), plus one in the v1 pids hierarchy when that is writable;
  - watchdog: the supervisor sums the sandbox's processes' anonymous resident memory (RSS less
    shared file pages, so shared libraries are not counted once per process) at every scan.
    /proc/PID/statm costs microseconds; exact proportional figures (smaps_rollup) cost ~30 ms for
    a 400 MB process, too slow for a 20 ms scan. So pages a fork shares copy-on-write count once
    per process, and a short spike between two scans can pass; the cgroups have neither flaw.
With a cgroup the kernel enforces the limit (its OOM killer fires inside the cgroup) and the
supervisor, seeing the OOM kill, kills the rest of the sandbox. The sandboxed process is moved into
the cgroup (`join`) while it waits, before it execs anything (sandbox.py's gate), so nothing it
starts escapes it.
Cgroups are removed after each run; ones left by a crashed agent are removed by the next run.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from forge.errors import ConfigError

MECHANISMS = ("auto", "cgroup2", "cgroup1", "watchdog")
CGROUP_PREFIX = "autogpt-sandbox-"
_PAGE = os.sysconf("SC_PAGE_SIZE")
_REMOVE_TRIES = 1000  # x 1 ms: killed processes take a moment (usually a few ms) to leave their cgroup
_counter = itertools.count()


class MemoryGuard:
    """Watchdog, and the interface of the cgroup guards."""

    mechanism = "watchdog"

    def __init__(self, limit_mb: int):
        self.limit_mb = limit_mb
        self.limit = limit_mb * 1024 * 1024

    def join(self, pid: int) -> None:
        """Move `pid` (the sandbox's gate, which has not forked yet) into the guard's cgroups."""

    def exceeded(self, statm_files: Callable[[], Iterable[str]]) -> bool:
        """True once the sandbox's processes together used more than the limit."""
        total = 0
        for path in statm_files():
            try:
                with open(path, "rb") as f:
                    fields = f.read().split()
                total += (int(fields[1]) - int(fields[2])) * _PAGE  # resident - shared (file-backed)
            except (OSError, ValueError, IndexError):
                continue  # exited meanwhile
        return total > self.limit

    def pids(self) -> list[int]:
        """Every process in the guard's cgroup (none for the watchdog)."""
        return []

    def kill(self) -> None:
        """SIGKILL everything in the cgroup at once, where the kernel offers it."""

    def close(self) -> None:
        """Remove the cgroups; the processes must be dead."""

    @property
    def reason(self) -> str:
        return f"the sandbox's processes used more than {self.limit_mb} MB together"


class _Cgroup(MemoryGuard):
    """A set of per-run cgroup folders, one per hierarchy; the first holds memory."""

    oom_file = ""

    def __init__(self, limit_mb: int, folders: list[Path]):
        super().__init__(limit_mb)
        self.folders = folders

    def join(self, pid: int) -> None:
        for folder in self.folders:
            fd = os.open(folder / "cgroup.procs", os.O_WRONLY)
            try:
                os.write(fd, str(pid).encode())
            finally:
                os.close(fd)

    def exceeded(self, statm_files: Callable[[], Iterable[str]]) -> bool:
        try:
            text = (self.folders[0] / self.oom_file).read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.folders[0] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def close(self) -> None:
        for folder in self.folders:
            _remove(folder)


class CgroupV2(_Cgroup):
    mechanism = "cgroup2"
    oom_file = "memory.events"

    def kill(self) -> None:
        try:
            (self.folders[0] / "cgroup.kill").write_text("1")
        except OSError:
            pass  # kernels before 5.14: the supervisor kills each process


class CgroupV1(_Cgroup):
    mechanism = "cgroup1"
    oom_file = "memory.oom_control"


# Finding and making cgroups ----------------------------------------------------------------------
def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(root inside the hierarchy, mount point, fs type, super options) of each cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_cgroups() -> dict[str, str]:
    """{controller or "" for v2: our cgroup's path}, from /proc/self/cgroup."""
    own: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name] = path
    return own


def _folder(mount_root: str, mount_point: str, path: str) -> Path | None:
    if mount_root != "/" and not (path + "/").startswith(mount_root.rstrip("/") + "/"):
        return None  # our cgroup is outside what this mount shows
    rel = path[len(mount_root):] if mount_root != "/" else path
    return Path(mount_point) / rel.lstrip("/")


def _v1_folder(controller: str) -> Path | None:
    own = _own_cgroups()
    for root, point, fstype, options in _mounts():
        if fstype == "cgroup" and controller in options and controller in own:
            return _folder(root, point, own[controller])
    return None


def _v2_candidates() -> list[Path]:
    own = _own_cgroups()
    for root, point, fstype, _ in _mounts():
        if fstype == "cgroup2" and "" in own:
            folder = _folder(root, point, own[""])
            if folder is not None:
                mount = Path(point)
                return [folder] + ([folder.parent] if folder != mount else [])
    return []


def _pids_max(max_processes: int) -> str:
    """A hard cap above the supervisor's process limit: the supervisor still kills at the limit
    (with that reason); the kernel stops a fork bomb that grows faster than the supervisor scans."""
    return str(2 * max_processes + 2)


def _make_child(parent: Path, settings: dict[str, str], optional: Iterable[str] = ()) -> Path:
    _remove_stale(parent)
    child = parent / f"{CGROUP_PREFIX}{os.getpid()}-{next(_counter)}"
    child.mkdir()
    try:
        for name, value in settings.items():
            try:
                (child / name).write_text(value)
            except OSError:
                if name not in optional:
                    raise
    except OSError:
        _remove(child)
        raise
    return child


def _remove_stale(parent: Path) -> None:
    """Cgroups of ours whose agent process is gone (it crashed before cleaning up)."""
    try:
        names = [e.name for e in os.scandir(parent) if e.name.startswith(CGROUP_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name.removeprefix(CGROUP_PREFIX).split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.rmdir(parent / name)
            except OSError:
                pass


def _remove(folder: Path) -> None:
    for _ in range(_REMOVE_TRIES):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.001)  # EBUSY: a killed process has not left yet; a later run removes it


def _cgroup_v2(limit_mb: int, max_processes: int) -> CgroupV2 | str:
    candidates = _v2_candidates()
    if not candidates:
        return "no cgroup v2 hierarchy holds this process"
    why = "no memory controller delegated"
    for parent in candidates:
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
        except OSError as e:
            why = f"cannot read {parent}/cgroup.subtree_control ({e.strerror})"
            continue
        if "memory" not in enabled:
            why = f"the memory controller is not enabled for children of {parent}"
            continue
        limits = {"memory.max": str(limit_mb * 1024 * 1024), "memory.swap.max": "0", "memory.oom.group": "1"}
        if "pids" in enabled:
            limits["pids.max"] = _pids_max(max_processes)
        try:
            child = _make_child(parent, limits, optional=("memory.swap.max", "memory.oom.group"))
            return CgroupV2(limit_mb, [child])
        except OSError as e:
            why = f"cannot create a cgroup under {parent} ({e.strerror})"
    return f"cgroup v2 unusable: {why}"


def _cgroup_v1(limit_mb: int, max_processes: int) -> CgroupV1 | str:
    memory = _v1_folder("memory")
    if memory is None:
        return "no cgroup v1 memory hierarchy holds this process"
    limit = str(limit_mb * 1024 * 1024)
    try:
        # memsw (memory + swap) only exists with swap accounting; it must be set after the plain limit.
        folders = [_make_child(memory, {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit},
                               optional=("memory.memsw.limit_in_bytes",))]
    except OSError as e:
        return f"cannot create a cgroup under {memory} ({e.strerror})"
    pids = _v1_folder("pids")
    if pids is not None:
        try:
            folders.append(_make_child(pids, {"pids.max": _pids_max(max_processes)}))
        except OSError:
            pass  # the process watchdog still counts them
    return CgroupV1(limit_mb, folders)


def open_guard(mechanism: str, limit_mb: int, max_processes: int) -> MemoryGuard:
    """The guard for one run. A mechanism named explicitly that cannot work here is a ConfigError."""
    if mechanism not in MECHANISMS:
        raise ConfigError(
            f"unknown code memory mechanism {mechanism!r}; set AUTOGPT_CODE_MEMORY_MECHANISM to one of "
            + ", ".join(MECHANISMS)
        )
    makers = {"cgroup2": _cgroup_v2, "cgroup1": _cgroup_v1}
    for name in ("cgroup2", "cgroup1"):
        if mechanism in ("auto", name):
            guard = makers[name](limit_mb, max_processes)
            if isinstance(guard, MemoryGuard):
                return guard
            if mechanism == name:
                raise ConfigError(f"{guard}; set AUTOGPT_CODE_MEMORY_MECHANISM=auto (or watchdog)")
    return MemoryGuard(limit_mb)


def unavailable(mechanism: str) -> str | None:
    """Why `mechanism` cannot work here, or None when it can (creates and removes a probe cgroup)."""
    try:
        open_guard(mechanism, 64, 8).close()
    except ConfigError as e:
        return str(e)
    return None
