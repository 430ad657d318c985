"""Run model-written code and commands with limits, inside bubblewrap by default.

`bwrap` mode: new user/pid/net/ipc/uts namespaces, uid/gid 65534, no network, read-only /usr and
a few /etc files, the workspace bound read-write at /workspace (the cwd; bwrap mounts it nosuid,
nodev), a small tmpfs /tmp, an empty environment except PATH/HOME/LANG. Debian's /usr/bin/python3
runs the code, so nothing under /root (pyenv, the venv) is needed inside; `python` names it too.

`none` mode (unsafe): the same limits and a clean environment, but no isolation.

Set-uid files: uid 65534 inside maps to the user running the agent outside, so whatever the code
writes belongs to that user on the host. A seccomp filter (forge/security/seccomp.py) refuses
every call that would set S_ISUID/S_ISGID, and after every run, killed or not and in both modes,
any such bit left in the workspace is cleared (forge/security/permissions.py).

Limits, and how each is enforced:
  - memory: a total over the sandbox's processes (a cgroup, else a watchdog: sandbox_memory.py),
    and RLIMIT_AS per process as a backstop -> MemoryError in Python;
  - CPU: RLIMIT_CPU, a backstop behind the wall-clock timeout;
  - file size: RLIMIT_FSIZE, plus a size cap on the sandbox's tmpfs;
  - wall clock: the whole process group is SIGKILLed; in bwrap mode `--die-with-parent` and the
    pid namespace take every sandboxed process down with it;
  - processes: a watchdog counts the sandbox's processes and kills it past the limit. RLIMIT_NPROC
    alone is not enough: the kernel never applies it to processes whose real uid is root outside
    the namespace (what bwrap gives when we run as root), and set before bwrap it would count
    every process of the user. So when not root, `prlimit` sets it *inside* the namespace, where it
    counts only the sandbox's processes and makes fork() fail cleanly before the watchdog fires.
    In `none` mode the watchdog follows the session, so a child that calls setsid() escapes it
    (unless a cgroup holds the run: its members are killed too);
  - cancellation: a `cancel` event (set when the caller gives up, e.g. a workflow node's timeout)
    kills the whole process tree before run_sandboxed returns.

How the limits reach the child: not through `preexec_fn` (Python code between fork and exec may
deadlock when the parent has threads, and the workflow engine runs code blocks from worker
threads). The child starts as a tiny /bin/sh gate that waits for one line on its stdin; meanwhile
the parent sets its rlimits (prlimit(2)) and niceness and moves it into the memory guard's cgroup,
then opens the gate and the shell execs bwrap (or the command) with all of that inherited. Nothing
has forked yet at that point, so every descendant is born inside the limits. If the parent dies
first, the gate reads EOF and nothing runs. It is also cheaper: without preexec_fn Python can
vfork instead of copying the whole agent (benchmark/perf/bench_sandbox_overhead.py).
"""

from __future__ import annotations

import json
import math
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from forge.errors import ConfigError, ToolError
from forge.security import seccomp
from forge.security.permissions import strip_setid
from forge.security.secrets import clean_env
from forge.tools.sandbox_memory import MemoryGuard, open_guard

if TYPE_CHECKING:
    import threading

    from forge.config import Settings

BWRAP_FALLBACK = "/usr/bin/bwrap"  # when PATH is minimal (services, cron)
SANDBOX_WORKDIR = "/workspace"
SANDBOX_UID = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
PRLIMIT = "/usr/bin/prlimit"
GATE_SHELL = "/bin/sh"
# argv prefix of every sandboxed process: wait for the parent's go (one line), then become "$@".
GATE = (GATE_SHELL, "-c", 'read -r _ && exec "$@"', "sandbox-gate")
NICE_INCREMENT = 10  # under a fork bomb the supervisor (us) must still get the CPU to kill it
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
# Debian has only python3; `python` (in the default shell allowlist) is a link the sandbox adds,
# last on PATH so a real one wins.
ALIAS_DIR = "/sandbox/bin"
# /etc entries programs need to start; the rest of /etc stays out (it may hold secrets, and
# inside the namespace root-owned files look like ours).
ETC_FILES = (
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/mime.types",
)
FILE_SIZE_MB = 64  # largest single file sandboxed code may write
OUTPUT_KILL_BYTES = 50 * 1024 * 1024  # stop a runaway print loop instead of reading it for minutes
_SCAN_INTERVAL = 0.02  # seconds between process counts (one small directory read with bwrap)
_HOST_SCAN_INTERVAL = 0.1  # when counting means reading every process of the host (none mode)
_DRAIN_GRACE = 2.0  # seconds to wait for the output pipe after killing


@dataclass(frozen=True)
class Limits:
    timeout: float
    memory_mb: int
    max_processes: int
    output_chars: int
    file_size_mb: int = FILE_SIZE_MB
    memory_mechanism: str = "auto"  # how the memory total is enforced (sandbox_memory.MECHANISMS)

    @classmethod
    def from_settings(cls, settings: Settings, timeout: float | None = None) -> Limits:
        # The agent cuts observations at max_observation_chars from the front, which would drop
        # the tail (the traceback); capping here first keeps both ends.
        observation = getattr(settings, "max_observation_chars", None) or settings.code_output_chars
        return cls(
            timeout=settings.code_timeout if timeout is None else timeout,
            memory_mb=settings.code_memory_mb,
            max_processes=settings.code_max_processes,
            output_chars=min(settings.code_output_chars, max(observation - 150, 500)),
            memory_mechanism=getattr(settings, "code_memory_mechanism", "auto"),
        )


@dataclass
class SandboxResult:
    exit_code: int | None  # None when we killed it
    output: str  # stdout and stderr interleaved, capped
    timed_out: bool = False
    killed_reason: str | None = None  # e.g. "exceeded the 30s time limit"
    truncated: bool = False
    duration: float = 0.0
    note: str | None = None  # what a crash most likely means, e.g. the memory limit

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.killed_reason is None

    def observation(self) -> str:
        """The text the model sees: what happened first, then the output."""
        if self.killed_reason:
            status = f"killed: {self.killed_reason}"
        else:
            status = f"exit code {self.exit_code}"
        if self.note:
            status += f" ({self.note})"
        return f"{status}\n{self.output}" if self.output.strip() else f"{status}; no output"


# Capture ---------------------------------------------------------------------------------------
class _Capture:
    """Keeps the head and the tail of the output (tracebacks are at the end) within a budget."""

    def __init__(self, limit: int):
        self.head_max = max(limit // 2, 1)
        self.tail_max = max(limit - self.head_max, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[: max(len(self.tail) - self.tail_max, 0)]

    def text(self) -> tuple[str, bool]:
        omitted = self.total - len(self.head) - len(self.tail)
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if omitted <= 0:
            return head + tail, False
        return f"{head}\n[... {omitted} bytes of output omitted ...]\n{tail}", True


# Process accounting ----------------------------------------------------------------------------
def _proc_pids() -> list[int]:
    try:
        return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return []


def _pidns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def _session_id(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[3])
    except (OSError, ValueError, IndexError):
        return None


class _Members:
    """Counts and finds the sandbox's processes: its pid namespace (bwrap) or its session (none)."""

    def __init__(self, session: int, guard: MemoryGuard | None = None, *, bwrap: bool = False):
        self.session = session
        self.pidns: int | None = None
        self.init_pid: int | None = None
        self.guard = guard  # its cgroup, if any, lists every member exactly
        self.bwrap = bwrap  # members are counted once bwrap names its namespace (--info-fd)

    def set_info(self, info: dict[str, int]) -> None:
        self.init_pid = int(info["child-pid"])
        self.pidns = int(info.get("pid-namespace") or _pidns_inode(self.init_pid) or 0) or None

    @property
    def scan_interval(self) -> float:
        return _SCAN_INTERVAL if self.init_pid is not None or self.bwrap else _HOST_SCAN_INTERVAL

    def count(self) -> int:
        if self.init_pid is None:
            # bwrap writes --info-fd right after it clones the namespace's init, before the payload can
            # run: until then there is nothing to count, and scanning the host's /proc costs ~5 ms a run.
            return 0 if self.bwrap else len(self.pids())
        # The sandbox's own /proc lists exactly its pids (nested namespaces included) and costs one
        # directory read, which matters while a fork bomb is eating the CPU. Until bwrap has mounted
        # it, the path shows the host's /proc, and nothing of the payload runs yet.
        inner = f"/proc/{self.init_pid}/root/proc"
        try:
            if os.stat(inner).st_dev == os.stat("/proc").st_dev:
                return 0
            return sum(1 for e in os.scandir(inner) if e.name.isdigit())
        except PermissionError:  # not root and bwrap made itself undumpable: scan the host's /proc
            return len(self.pids())
        except OSError:
            return 0  # the namespace is gone

    def pids(self) -> list[int]:
        in_cgroup = self.guard.pids() if self.guard is not None else []
        if self.pidns is not None:
            ns = self.pidns
            found = [p for p in _proc_pids() if _pidns_inode(p) == ns]
        else:
            found = [p for p in _proc_pids() if _session_id(p) == self.session]
        return list(dict.fromkeys(found + in_cgroup))

    def statm_files(self) -> Iterator[str]:
        """/proc/PID/statm of each member, for the memory watchdog; the sandbox's own /proc when
        it can be read (one directory listing), else the host's."""
        if self.init_pid is not None:
            inner = f"/proc/{self.init_pid}/root/proc"
            try:
                if os.stat(inner).st_dev != os.stat("/proc").st_dev:
                    names = [e.name for e in os.scandir(inner) if e.name.isdigit()]
                    return (f"{inner}/{name}/statm" for name in names)
            except OSError:
                pass
        return (f"/proc/{pid}/statm" for pid in self.pids())


# Command lines ---------------------------------------------------------------------------------
def find_bwrap() -> str:
    path = shutil.which("bwrap") or (BWRAP_FALLBACK if os.path.exists(BWRAP_FALLBACK) else None)
    if path is None:
        raise ToolError(
            "the code sandbox is unavailable: bubblewrap is not installed; install it "
            "(apt-get install bubblewrap) or set AUTOGPT_SANDBOX=none to run code unsandboxed"
        )
    return path


def root_entries() -> list[str]:
    """Recreate /bin, /lib, ... as on the host: symlinks into /usr on merged-/usr systems."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_argv(
    bwrap: str, workspace: Path, limits: Limits, info_fd: int, seccomp_fd: int | None = None,
    hide: Sequence[str] = (),
) -> list[str]:
    tmp_bytes = str(min(limits.memory_mb, 256) * 1024 * 1024)
    args = [
        bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--clearenv",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
        "--disable-userns",  # no nested namespaces to hide processes in or regain capabilities
        "--ro-bind", "/usr", "/usr", *root_entries(),
    ]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += [
        "--proc", "/proc", "--dev", "/dev",
        "--size", tmp_bytes, "--tmpfs", "/tmp",
        "--size", tmp_bytes, "--tmpfs", "/dev/shm",
        # bwrap mounts binds nosuid and nodev (--dev-bind aside): a set-uid file does nothing inside.
        "--bind", str(workspace), SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR,
        # Folders of the workspace the code must not see (AutoGPT's data inside a --workdir): empty.
        *(arg for rel in hide for arg in ("--tmpfs", f"{SANDBOX_WORKDIR}/{rel}")),
        "--symlink", SYSTEM_PYTHON, f"{ALIAS_DIR}/python",
        # The root is an unbounded tmpfs made by bwrap (/etc, /workspace live in it): freeze it.
        "--remount-ro", "/",
        "--info-fd", str(info_fd),
    ]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    for key, value in _child_env(SANDBOX_WORKDIR, f"{SANDBOX_PATH}:{ALIAS_DIR}").items():
        args += ["--setenv", key, value]
    return args


def _child_env(home: str, path: str = SANDBOX_PATH) -> dict[str, str]:
    return {
        "PATH": path, "HOME": home, "LANG": "C.UTF-8", "TMPDIR": "/tmp",
        "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
    }


def _seccomp_pipe() -> int | None:
    """A pipe's read end holding the no-set-id filter for `bwrap --seccomp`, or None where no
    filter is written for this CPU (the post-run strip still applies)."""
    arch = seccomp.host_arch()
    if arch is None:
        return None
    program = seccomp.no_setid_program(arch)  # a few hundred bytes: fits the pipe's buffer
    r, w = os.pipe()
    try:
        os.write(w, program)
    finally:
        os.close(w)
    return r


def _rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    """(resource, (soft, hard)) set on the gate process, inherited by bwrap and all it starts."""
    memory = limits.memory_mb * 1024 * 1024
    cpu = math.ceil(limits.timeout) + 1
    fsize = limits.file_size_mb * 1024 * 1024
    return [
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]


def _apply_limits(pid: int, limits: Limits, guard: MemoryGuard) -> None:
    """Limit the waiting gate process `pid` from outside; see the module docstring."""
    try:
        # Niceness is per thread: the child inherited the one of the thread that started it.
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + NICE_INCREMENT)
        for which, values in _rlimits(limits):
            resource.prlimit(pid, which, values)
    except (OSError, ValueError) as e:
        raise ToolError(f"the code sandbox could not set its limits ({e}); report this as a bug") from None
    try:
        guard.join(pid)
    except OSError as e:
        raise _StartFailed(f"joining the memory cgroup: {e.strerror or e}") from None


def _check_command(argv0: str, path: str, cwd: Path) -> None:
    """The errors Popen gave before the gate existed, for a command run without bwrap."""
    if "/" in argv0:
        relative = cwd / argv0
        target = str(relative) if relative.exists() else None
    else:
        target = shutil.which(argv0, path=path)
    if target is None:
        raise ToolError(f"command not found: {argv0!r}")
    if os.path.isdir(target) or not os.access(target, os.X_OK):
        raise ToolError(f"cannot run {argv0!r}: Permission denied")


def python_executable(sandbox: str) -> str:
    if os.path.exists(SYSTEM_PYTHON):
        return SYSTEM_PYTHON
    if sandbox == "bwrap":
        raise ToolError(f"{SYSTEM_PYTHON} is missing; install python3 (apt-get install python3)")
    return sys.executable


# Running ---------------------------------------------------------------------------------------
def run_sandboxed(
    argv: Sequence[str],
    *,
    workspace: Path,
    settings: Settings,
    timeout: float | None = None,
    stdin: bytes | None = None,
    cancel: threading.Event | None = None,
) -> SandboxResult:
    """Run `argv` with the workspace as cwd, under `settings.sandbox` and the code_* limits.

    Setting `cancel` (from another thread) kills the run; it returns once the process tree is dead.
    """
    from forge.tools.workspace import bind_workspace, hidden_data_folder

    limits = Limits.from_settings(settings, timeout)
    workspace = bind_workspace(workspace, settings)
    data = hidden_data_folder(workspace, settings)
    hide = [data.relative_to(workspace).as_posix()] if data is not None else []
    mode = settings.sandbox
    if mode not in ("bwrap", "none"):
        raise ConfigError(f"unknown sandbox {mode!r}; set AUTOGPT_SANDBOX to 'bwrap' or 'none'")
    bwrap = find_bwrap() if mode == "bwrap" else ""
    guard = open_guard(limits.memory_mechanism, limits.memory_mb, limits.max_processes)
    try:
        while True:
            try:
                return _run(argv, bwrap, workspace, limits, guard, stdin, cancel, hide)
            except _StartFailed as e:
                if guard.mechanism == "watchdog":
                    raise ToolError(f"the code sandbox could not start ({e}); report this as a bug") from None
                if limits.memory_mechanism != "auto":
                    raise ConfigError(
                        f"the code sandbox could not join its {guard.mechanism} memory cgroup; "
                        "set AUTOGPT_CODE_MEMORY_MECHANISM=auto"
                    ) from None
                guard.close()
                guard = MemoryGuard(limits.memory_mb)  # the watchdog needs no cgroup
    finally:
        guard.close()
        strip_setid(workspace)  # whatever happened, nothing set-uid stays behind


class _StartFailed(Exception):
    """The gate process could not join the memory guard's cgroup; the payload never ran."""


def _run(
    argv: Sequence[str],
    bwrap: str,
    workspace: Path,
    limits: Limits,
    guard: MemoryGuard,
    stdin: bytes | None,
    cancel: threading.Event | None,
    hide: Sequence[str] = (),
) -> SandboxResult:
    info_r = info_w = -1
    filter_r: int | None = None
    if not os.path.exists(GATE_SHELL):
        raise ToolError(f"{GATE_SHELL} is missing; the code sandbox needs a POSIX shell there")
    if bwrap:
        info_r, info_w = os.pipe()
        filter_r = _seccomp_pipe()
        payload = list(argv)
        if os.geteuid() != 0 and os.path.exists(PRLIMIT):
            n = limits.max_processes
            payload = [PRLIMIT, f"--nproc={n}:{n}", "--", *payload]
        cmd = [*bwrap_argv(bwrap, workspace, limits, info_w, filter_r, hide), *payload]
        env: dict[str, str] = {}
    else:
        cmd = list(argv)
        env = clean_env(_child_env(str(workspace)))
        _check_command(cmd[0], env.get("PATH", SANDBOX_PATH), workspace)

    pass_fds = tuple(fd for fd in (info_w, filter_r) if fd is not None and fd >= 0)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [*GATE, *cmd],
            cwd=workspace,
            env=env,
            stdin=subprocess.PIPE,  # the gate's go line first, then the payload's input (if any)
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    except OSError as e:
        if info_r >= 0:
            os.close(info_r)
        raise ToolError(f"the code sandbox could not start {GATE_SHELL} ({e.strerror or e})") from None
    finally:
        for fd in pass_fds:
            os.close(fd)
    assert proc.stdin is not None
    try:
        _apply_limits(proc.pid, limits, guard)
        os.write(proc.stdin.fileno(), b"\n")  # open the gate
    except BaseException as e:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        assert proc.stdout is not None
        proc.stdout.close()
        if info_r >= 0:
            os.close(info_r)
        if isinstance(e, BrokenPipeError):
            raise ToolError("the code sandbox's gate exited before it was opened; report this as a bug") from None
        raise
    if stdin is None:
        proc.stdin.close()  # no input: the payload reads EOF at once, as from /dev/null
    try:
        result = _supervise(proc, limits, stdin, info_r, started, guard, cancel)
    finally:
        if info_r >= 0:
            os.close(info_r)
    if bwrap and result.exit_code == 1 and result.output.startswith("bwrap: "):
        _raise_bwrap_error(result.output, argv)
    return result


def _raise_bwrap_error(output: str, argv: Sequence[str]) -> None:
    message = output.strip().splitlines()[0].removeprefix("bwrap: ")
    if message.startswith("execvp"):
        raise ToolError(f"command not found in the sandbox: {argv[0]!r}")
    raise ToolError(
        f"the code sandbox failed to start ({message}); unprivileged user namespaces may be disabled: "
        "enable them or set AUTOGPT_SANDBOX=none"
    )


def _supervise(
    proc: subprocess.Popen[bytes],
    limits: Limits,
    stdin: bytes | None,
    info_r: int,
    started: float,
    guard: MemoryGuard,
    cancel: threading.Event | None,
) -> SandboxResult:
    """Feed stdin, collect output, and enforce the wall clock, memory, process and output limits."""
    assert proc.stdout is not None
    members = _Members(session=proc.pid, guard=guard, bwrap=info_r >= 0)
    capture = _Capture(limits.output_chars)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
    info = bytearray()
    if info_r >= 0:
        sel.register(info_r, selectors.EVENT_READ, "info")
    pending = memoryview(stdin or b"")
    child_stdin = proc.stdin if stdin is not None else None  # else closed once the gate opened
    if child_stdin is not None:
        os.set_blocking(child_stdin.fileno(), False)
        sel.register(child_stdin.fileno(), selectors.EVENT_WRITE, "in")

    deadline = started + limits.timeout
    killed_reason: str | None = None
    timed_out = False
    stop_at: float | None = None  # set once the main process is gone or killed
    next_scan = started
    out_open = True

    while out_open:
        now = time.monotonic()
        if killed_reason is None:
            if cancel is not None and cancel.is_set():
                killed_reason = "cancelled by the caller"
            elif now >= deadline:
                killed_reason, timed_out = f"exceeded the {limits.timeout:g}s time limit", True
            elif capture.total > OUTPUT_KILL_BYTES:
                killed_reason = f"printed more than {OUTPUT_KILL_BYTES // 2**20} MB of output"
            elif now >= next_scan:
                next_scan = now + members.scan_interval
                if members.count() > limits.max_processes:
                    killed_reason = f"exceeded the {limits.max_processes}-process limit"
                elif guard.exceeded(members.statm_files):
                    killed_reason = guard.reason
            if killed_reason is not None:
                _kill_all(proc, members)
                stop_at = now + _DRAIN_GRACE
        if stop_at is None and proc.poll() is not None:
            # Done. Anything it left running (none mode: same session) must not outlive it.
            _kill_leftovers(members)
            stop_at = now + _DRAIN_GRACE
        if stop_at is not None and now >= stop_at:
            break  # something still holds the pipe open; do not hang on it
        wait = _SCAN_INTERVAL if stop_at else min(_SCAN_INTERVAL, max(deadline - now, 0.0))
        for key, _ in sel.select(timeout=wait):
            fd = int(key.fd)
            if key.data == "in":
                try:
                    pending = pending[os.write(fd, pending[:65536]) :]
                except BlockingIOError:
                    continue
                except OSError:  # the child exited or closed stdin: drop the rest
                    pending = pending[:0]
                if not pending and child_stdin is not None:
                    sel.unregister(fd)
                    child_stdin.close()
                continue
            data = os.read(fd, 65536)
            if key.data == "info":
                info += data
                if not data:
                    sel.unregister(fd)
                    _read_info(bytes(info), members)
            elif data:
                capture.feed(data)
            else:
                out_open = False
    sel.close()
    if child_stdin is not None and not child_stdin.closed:
        child_stdin.close()
    proc.stdout.close()
    try:
        code: int | None = proc.wait(timeout=_DRAIN_GRACE)
    except subprocess.TimeoutExpired:
        _kill_all(proc, members)
        code = None
    if killed_reason is None and guard.mechanism != "watchdog" and guard.exceeded(members.statm_files):
        # The kernel's OOM killer hit a process between two scans and the rest finished: still a kill.
        killed_reason = guard.reason
    if killed_reason is not None:
        _kill_leftovers(members)  # e.g. cancelled while it was exiting
    output, truncated = capture.text()
    return SandboxResult(
        exit_code=None if killed_reason else code,
        output=output,
        timed_out=timed_out,
        killed_reason=killed_reason,
        truncated=truncated,
        duration=time.monotonic() - started,
        note=None if killed_reason else _explain(code, output, limits),
    )


def _read_info(info: bytes, members: _Members) -> None:
    """bwrap's --info-fd JSON names the namespace's init; its pid namespace is the sandbox."""
    try:
        members.set_info(json.loads(info))
    except (ValueError, KeyError, TypeError):
        pass


def _signal(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _kill_all(proc: subprocess.Popen[bytes], members: _Members) -> None:
    """SIGKILL the process group, then every process of the sandbox.

    Killing bwrap's init would take the pid namespace down, but only once the scheduler runs
    init, and a fork bomb keeps it waiting while the bomb grows. So we SIGKILL every member
    ourselves, pass after pass, until a pass finds nothing new: a process with a pending
    SIGKILL cannot fork, so nothing new means nothing can be born any more.
    """
    if members.guard is not None:
        members.guard.kill()  # cgroup v2: one write kills them all
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    # Check the namespace again so a recycled pid is never hit.
    if members.init_pid is not None and _pidns_inode(members.init_pid) == members.pidns:
        _signal([members.init_pid])
    _kill_leftovers(members)


def _kill_leftovers(members: _Members) -> None:
    """SIGKILL the sandbox's processes until no new one appears (bounded, to never spin)."""
    killed: set[int] = set()
    for _ in range(100):
        fresh = [pid for pid in members.pids() if pid not in killed]
        if not fresh:
            return
        _signal(fresh)
        killed.update(fresh)


def _explain(code: int | None, output: str, limits: Limits) -> str | None:
    """A hint for crashes caused by our limits, which the raw output does not make obvious."""
    if code is None or code == 0:
        return None
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    tail = output[-2000:]
    if "MemoryError" in tail or "Cannot allocate memory" in tail:
        return f"MemoryError: the code hit the {limits.memory_mb} MB memory limit"
    if signum == signal.SIGXCPU or signum == signal.SIGKILL:
        name = signal.Signals(signum).name
        return f"killed by {name}: CPU time or memory limit ({limits.memory_mb} MB) reached"
    if signum == signal.SIGXFSZ or "File too large" in tail:
        return f"a file exceeded the {limits.file_size_mb} MB size limit"
    try:
        return f"killed by {signal.Signals(signum).name}" if signum else None
    except ValueError:  # an exit status above 128 that is no signal we know
        return None


def run_python(
    workspace: Path,
    settings: Settings,
    *,
    code: str | None = None,
    file: Path | None = None,
    cancel: threading.Event | None = None,
) -> SandboxResult:
    """Run Python source (fed on stdin) or a workspace file with the system python3.

    `-E -s` rather than `-I`: same isolation from env vars and user site, but the script's
    folder stays on sys.path so code can import modules it wrote into the workspace.
    """
    python = python_executable(settings.sandbox)
    base = [python, "-E", "-s", "-u", "-B"]
    if file is not None:
        rel = file.resolve().relative_to(workspace.resolve()).as_posix()
        return run_sandboxed([*base, f"./{rel}"], workspace=workspace, settings=settings, cancel=cancel)
    return run_sandboxed(
        [*base, "-"], workspace=workspace, settings=settings, stdin=(code or "").encode(), cancel=cancel
    )


def run_command(
    argv: Sequence[str], workspace: Path, settings: Settings, *, cancel: threading.Event | None = None
) -> SandboxResult:
    """Run an already policy-checked argv with the shell timeout."""
    argv = list(argv)
    if settings.sandbox != "bwrap" and argv[:1] == ["python"] and not shutil.which("python", path=SANDBOX_PATH):
        argv[0] = python_executable(settings.sandbox)  # bwrap mode has the `python` link instead
    return run_sandboxed(
        argv, workspace=workspace, settings=settings, timeout=settings.shell_timeout, cancel=cancel
    )
