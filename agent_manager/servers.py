"""`./run agent start/stop/list`: each agent's Agent Protocol server as a background process.

`start` runs `autogpt serve` for the agent in its own session (so its process group is its own),
logs to `<state>/NAME.log` and records pid, process group, port, log and start time in
`<state>/NAME.json` (written atomically). `stop` signals only a process that is provably the one
`start` made: same pid, same boot, same kernel start time and the command line `start` ran. A pid
that was reused by another program is never signalled.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_manager import AgentCommandError
from agent_manager.scaffold import BUILTIN, class_name

HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds for /heartbeat to answer
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class Paths:
    root: Path  # the project checkout
    agents_dir: Path  # agents made by `create`
    state_dir: Path  # pid records and logs

    @classmethod
    def for_root(cls, root: Path) -> Paths:
        """RUN_AGENTS_DIR and RUN_STATE_DIR move the two folders (tests use temporary ones)."""
        agents = os.environ.get("RUN_AGENTS_DIR") or root / "agents"
        state = os.environ.get("RUN_STATE_DIR") or root / ".run" / "agents"
        return cls(root, Path(agents).resolve(), Path(state).resolve())

    @property
    def venv_bin(self) -> Path:
        return self.root / ".venv" / "bin"

    def record(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def log(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"


# Processes ----------------------------------------------------------------------------------------
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def proc_identity(pid: int) -> tuple[int, list[str]] | None:
    """(kernel start time in clock ticks, command line) of a live process; None when it is gone
    or a zombie (it has exited; only its parent's wait is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and ')'
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19]), [a.decode(errors="surrogateescape") for a in cmdline.split(b"\0")[:-1]]


def is_ours(rec: dict[str, Any]) -> bool:
    """The recorded process is alive and is still the one `start` made."""
    try:
        pid = int(rec["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    ident = proc_identity(pid)
    return (
        ident is not None
        and ident[0] == rec.get("proc_start")
        and ident[1] == rec.get("cmdline")
        and rec.get("boot_id", "") == boot_id()
    )


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def terminate(rec: dict[str, Any], grace: float) -> bool:
    """SIGTERM to the recorded process group, SIGKILL after `grace` seconds. False when the
    process is not ours (then nothing is signalled)."""
    if not is_ours(rec):
        return False
    pid, pgid = int(rec["pid"]), int(rec["pgid"])
    try:
        if os.getpgid(pid) != pgid:  # it left the group we recorded: signal it alone
            pgid = -1
    except ProcessLookupError:
        return True
    if pgid > 0:
        _signal_group(pgid, signal.SIGTERM)
    else:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_ours(rec) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_ours(rec):
        os.kill(pid, signal.SIGKILL)
    # Anything left in the group was started by the server (the kernel keeps a pgid from being
    # reused while the group has members, so this reaches no one else).
    if pgid > 0:
        _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while is_ours(rec) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


# Records ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def locked(paths: Paths, name: str) -> Iterator[None]:
    """One `./run agent` command at a time per agent (start vs stop vs list cleaning)."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.state_dir / f"{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def read_record(paths: Paths, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(paths.record(name).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treated as stale
    return data if isinstance(data, dict) else {}


def write_record(paths: Paths, name: str, rec: dict[str, Any]) -> None:
    """Atomic: a reader sees the old record or the new one, never half of one."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=paths.state_dir)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(rec, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, paths.record(name))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_record(paths: Paths, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        paths.record(name).unlink()


def live_record(paths: Paths, name: str) -> dict[str, Any] | None:
    """The record of a running server; a stale one (process gone or not ours) is removed."""
    rec = read_record(paths, name)
    if rec is None:
        return None
    if is_ours(rec):
        return rec
    remove_record(paths, name)
    return None


# Agents -------------------------------------------------------------------------------------------
def agent_names(paths: Paths) -> list[str]:
    """The built-in agent, every agent folder, and any agent with a record (even if its folder went)."""
    names = {BUILTIN}
    if paths.agents_dir.is_dir():
        names |= {p.parent.name for p in paths.agents_dir.glob("*/pyproject.toml") if not p.parent.name.startswith(".")}
    if paths.state_dir.is_dir():
        names |= {p.stem for p in paths.state_dir.glob("*.json")}
    return [BUILTIN, *sorted(names - {BUILTIN})]


def agent_dir(paths: Paths, name: str) -> Path:
    folder = paths.agents_dir / name
    if not (folder / "pyproject.toml").is_file() or not (folder / name / "agent.py").is_file():
        raise AgentCommandError(
            f"no agent {name!r} in {paths.agents_dir}; create it with ./run agent create {name} "
            f"(or start the built-in one: ./run agent start {BUILTIN})",
            code=2,
        )
    return folder


def install_agent(paths: Paths, name: str, folder: Path) -> None:
    """pip install -e the agent into the project's .venv, without resolving dependencies again
    (the main project is already there). Skipped when the same pyproject is already installed."""
    from importlib import metadata

    key = hashlib.sha256((folder / "pyproject.toml").read_bytes() + str(folder).encode()).hexdigest()
    stamp = paths.state_dir / f"{name}.setup"
    try:
        metadata.distribution(name)
        installed = True
    except metadata.PackageNotFoundError:
        installed = False
    if installed and stamp.is_file() and stamp.read_text() == key:
        return
    cmd = [str(paths.venv_bin / "python"), "-m", "pip", "install", "-q", "--no-deps"]
    if _can_build_here():
        cmd.append("--no-build-isolation")  # the .venv's setuptools: no fresh build environment, faster
    print(f"Installing {name} into .venv (pip install -e {folder})", flush=True)
    result = subprocess.run([*cmd, "-e", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        tail = " | ".join(([ln.strip() for ln in output if "error" in ln.lower()] or output)[-2:])
        raise AgentCommandError(f"could not install {name} ({tail}); fix {folder}/pyproject.toml or use --no-setup")
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)


def _can_build_here() -> bool:
    """setuptools builds wheels itself from 70.1; older ones need the `wheel` package beside them."""
    from importlib.util import find_spec

    try:
        return find_spec("setuptools.command.bdist_wheel") is not None or find_spec("wheel") is not None
    except ImportError:
        return False


def port_in_use(port: int) -> bool:
    """Bound the way the server binds (SO_REUSEADDR), so a port in TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise AgentCommandError(f"cannot use port {port} ({e.strerror}); choose another with --port") from None
    return False


def _port_taken(paths: Paths, port: int) -> AgentCommandError:
    owner = next(
        (n for n in agent_names(paths) if (r := read_record(paths, n)) and r.get("port") == port and is_ours(r)), None
    )
    by = f"by agent {owner}" if owner else "by another program"
    return AgentCommandError(f"port {port} is already in use ({by}); choose another with --port")


def _heartbeat(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(f"{url}/heartbeat", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def serve_command(paths: Paths, name: str, port: int, model: str | None, workspace: Path) -> list[str]:
    """The interpreter is named, not left to the script's #! line, so /proc/PID/cmdline is exactly this."""
    cmd = [str(paths.venv_bin / "python"), str(paths.venv_bin / "autogpt"), "serve", "--host", HOST,
           "--port", str(port), "--workspace", str(workspace)]
    if name != BUILTIN:
        cmd += ["--agent", f"{name}.agent:{class_name(name)}"]
    if model:
        cmd += ["--model", model]
    return cmd


def absolute_model(model: str | None) -> str | None:
    """`scripted/FILE` is read by the server, which runs in the agent's folder: anchor it here."""
    prefix = "scripted/"
    if model and model.startswith(prefix):
        return prefix + str(Path(model[len(prefix) :]).resolve())
    return model


def start_agent(
    paths: Paths,
    name: str,
    *,
    port: int,
    setup: bool,
    model: str | None = None,
    workspace: Path | None = None,
    timeout: float = START_TIMEOUT,
    setup_builtin: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Start NAME's server and return its record once /heartbeat answers."""
    folder = paths.root if name == BUILTIN else agent_dir(paths, name)
    with locked(paths, name):
        if (rec := live_record(paths, name)) is not None:
            raise AgentCommandError(
                f"{name} is already running on port {rec['port']} (pid {rec['pid']}); stop it first: "
                f"./run agent stop {name}"
            )
        if port_in_use(port):
            raise _port_taken(paths, port)
        if setup:
            if name == BUILTIN:
                if setup_builtin is not None:
                    setup_builtin()
            else:
                install_agent(paths, name, folder)
        workspace = (workspace or folder / "workspace").resolve()
        cmd = serve_command(paths, name, port, absolute_model(model), workspace)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if name != BUILTIN:  # importable even before (or without) the editable install
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH")) if p)
        log = paths.log(name)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group: stop signals the group
            )
        # The start time is set at fork, so it can be read at once; the command line is the one we ran
        # (read back from /proc it may still be empty while the kernel finishes the exec).
        proc_start = _start_ticks(proc.pid)
        url = f"http://{HOST}:{port}"
        rec = {
            "name": name,
            "pid": proc.pid,
            "pgid": proc.pid,
            "port": port,
            "url": url,
            "log": str(log),
            "workspace": str(workspace),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "started": time.time(),
            "proc_start": proc_start,
            "cmdline": cmd,
            "boot_id": boot_id(),
        }
        write_record(paths, name, rec)  # now, so a start interrupted while waiting can still be stopped
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                remove_record(paths, name)
                tail = log_tail(log)
                if "already in use" in tail:
                    raise _port_taken(paths, port)
                raise AgentCommandError(f"the server of {name} exited (code {code}) before it answered; log {log}:\n"
                                        f"{tail}")
            if _heartbeat(url):
                return rec
            if time.monotonic() > deadline:
                _kill_child(proc)
                remove_record(paths, name)
                raise AgentCommandError(
                    f"the server of {name} did not answer {url}/heartbeat within {timeout:g} s; stopped it. "
                    f"Log {log}:\n{log_tail(log)}"
                )
            time.sleep(0.05)


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _kill_child(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server this process started and has not reaped (so its pid cannot have been reused)."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)  # anything it left in its group


def stop_agent(paths: Paths, name: str, grace: float = STOP_GRACE) -> str:
    """Stop NAME's server if `start` started it; says what happened."""
    with locked(paths, name):
        rec = read_record(paths, name)
        if rec is None:
            return f"{name} is not running"
        if not is_ours(rec):
            remove_record(paths, name)
            pid = rec.get("pid")
            alive = isinstance(pid, int) and proc_identity(pid) is not None
            if alive:
                return (f"{name}: pid {pid} is not the server ./run agent started (another program has it now); "
                        "left it alone and removed the stale record")
            return f"{name} was not running (removed its stale record)"
        terminate(rec, grace)
        remove_record(paths, name)
        return f"stopped {name} (pid {rec['pid']}, port {rec['port']})"


def stop_all(paths: Paths, grace: float = STOP_GRACE) -> list[str]:
    names = [p.stem for p in sorted(paths.state_dir.glob("*.json"))] if paths.state_dir.is_dir() else []
    return [stop_agent(paths, n, grace) for n in names] or ["no agent is running"]


def uptime_text(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {s:02d}s"
    return f"{minutes}m {s:02d}s" if minutes else f"{s}s"


def agent_statuses(paths: Paths) -> list[dict[str, Any]]:
    """One row per agent; stale records are cleaned on the way."""
    rows = []
    now = time.time()
    for name in agent_names(paths):
        with locked(paths, name):
            rec = live_record(paths, name)
        rows.append({
            "name": name,
            "status": "running" if rec else "stopped",
            "port": rec["port"] if rec else None,
            "pid": rec["pid"] if rec else None,
            "uptime_s": round(now - float(rec["started"]), 1) if rec else None,
            "url": rec["url"] if rec else None,
            "log": rec["log"] if rec else None,
        })
    return rows


def fail(e: AgentCommandError) -> None:
    """Print the one-line error the way the CLI does and exit with its code."""
    print(f"error: {e}", file=sys.stderr)
    raise SystemExit(e.code)
