"""The agent under test: a server the runner starts (the built-in agent, `--agent NAME`, `--agent-path DIR`)
or one already running (`--host URL`).

A started server is `autogpt serve` on a free 127.0.0.1 port, in its own session (a Ctrl-C in the terminal
reaches the runner, which stops it cleanly), with its workspace and log under the run's folder, the same way
`./run agent start` runs it (agent_manager/servers.py). When it dies mid-run the runner fails the challenges
that were running and calls `restart`, which starts a new one once however many attempts noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from forge.errors import AutoGPTError, ConfigError

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_GRACE = 10.0
BUILTIN = "autogpt"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Servers started and not yet stopped, for kill_started_servers (a second Ctrl-C skips the orderly stop).
_started: weakref.WeakSet[ManagedServer] = weakref.WeakSet()


class AgentStartError(AutoGPTError):
    """The agent server could not be started or reached (the CLI exits 1)."""


@dataclass(frozen=True)
class AgentTarget:
    kind: str  # "builtin", "project" (--agent / --agent-path) or "host"
    label: str  # what reports call it
    folder: Path | None = None  # the agent project
    package: str | None = None  # its package, holding agent.py
    url: str | None = None  # --host


def class_name(name: str) -> str:
    """The class `./run agent create NAME` writes: my_agent -> MyAgent, research -> ResearchAgent."""
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
    return camel if camel.endswith("Agent") else f"{camel}Agent"


def _project(folder: Path, flag: str) -> AgentTarget:
    folder = folder.resolve()
    if not (folder / "pyproject.toml").is_file():
        raise ConfigError(f"{flag}: {folder} is not an agent project (no pyproject.toml); make one with "
                          "./run agent create NAME, or start your agent yourself and pass --host URL")
    candidates = [folder.name] + sorted(p.parent.name for p in folder.glob("*/agent.py"))
    package = next((c for c in candidates if _IDENT.match(c) and (folder / c / "agent.py").is_file()), None)
    if package is None:
        raise ConfigError(f"{flag}: {folder} has no PACKAGE/agent.py (as ./run agent create makes it); "
                          "or start your agent yourself and pass --host URL")
    return AgentTarget("project", str(folder), folder, package)


def resolve_target(
    *, agent: str | None = None, agent_path: Path | None = None, host: str | None = None,
    agents_dir: Path = Path("agents"),
) -> AgentTarget:
    given = [flag for flag, value in (("--agent", agent), ("--agent-path", agent_path), ("--host", host)) if value]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} both name the agent; give only one")
    if host:
        if not re.match(r"^https?://", host):
            raise ConfigError(f"--host {host!r} is not a URL; e.g. --host http://127.0.0.1:8000")
        return AgentTarget("host", host.rstrip("/"), url=host.rstrip("/"))
    if agent_path is not None:
        return _project(agent_path, "--agent-path")
    if agent and agent != BUILTIN:
        if not (agents_dir / agent).is_dir():
            raise ConfigError(f"--agent: no agent {agent!r} in {agents_dir}; create it with ./run agent create "
                              f"{agent}, or pass --agent-path DIR")
        target = _project(agents_dir / agent, "--agent")
        return AgentTarget("project", agent, target.folder, target.package)
    return AgentTarget("builtin", BUILTIN)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _absolute_model(model: str | None) -> str | None:
    """`scripted/FILE` is read by the server, which runs in another folder: anchor it here."""
    if model and model.startswith("scripted/"):
        return "scripted/" + str(Path(model.removeprefix("scripted/")).resolve())
    return model


class AgentServer:
    """The agent the runner talks to. `generation` counts restarts, so attempts that saw the same death
    restart it once."""

    url: str = ""
    label: str = ""
    managed = False
    generation = 0

    async def start(self) -> None:
        """Idempotent: start it, or check that it answers."""

    async def stop(self) -> None:
        """Stop what start() started."""

    def death(self) -> str | None:
        """Why the server is gone (it exited), or None while it runs or when it is not ours to watch."""
        return None

    async def confirm_death(self, wait: float = 2.0) -> str | None:
        """`death()` after a connection failed: a killed server's sockets close while the kernel is still
        tearing the process down, so give it WAIT seconds to become reapable."""
        return self.death()

    async def restart(self, generation: int) -> None:
        """Start it again after a death seen at GENERATION (a no-op when it was already restarted)."""
        raise AgentStartError(f"the agent at {self.url} is not started by the runner; it cannot be restarted")


class ExternalServer(AgentServer):
    """`--host URL`: someone else runs it; it is neither started nor stopped here."""

    def __init__(self, url: str, *, api_key: str | None = None):
        self.url = self.label = url
        self.api_key = api_key

    async def start(self) -> None:
        from benchmark.client import AgentClient, AgentProtocolError, AgentUnreachableError

        async with AgentClient(self.url, api_key=self.api_key) as client:
            try:
                await client._request("GET", "/agent/tasks", params={"current_page": 1, "page_size": 1})
            except AgentUnreachableError:
                raise AgentStartError(f"no agent answers at {self.url}; start it first or fix --host") from None
            except AgentProtocolError as e:
                hint = "; set AUTOGPT_API_KEY to its key" if "401" in str(e) else ""
                raise AgentStartError(f"the agent at {self.url} refused the task list: {e}{hint}") from None


class ManagedServer(AgentServer):
    """`autogpt serve` for the built-in agent or an agent project, started and stopped by the runner."""

    managed = True

    def __init__(
        self, target: AgentTarget, *, workspace: Path, log: Path, model: str | None = None,
        env: Mapping[str, str] | None = None, extra_env: Mapping[str, str] | None = None,
        start_timeout: float = START_TIMEOUT, python: str | None = None,
    ):
        self.target = target
        self.label = target.label
        self.workspace = workspace
        self.log = log
        self.model = _absolute_model(model)
        self.base_env = dict(os.environ if env is None else env)
        self.extra_env = dict(extra_env or {})
        self.start_timeout = start_timeout
        self.python = python or sys.executable
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self._lock = asyncio.Lock()
        # start and stop run in worker threads: a stop waits for a start under way (which gives up early), so
        # a server being started when the run is cancelled is not left behind.
        self._proc_lock = threading.Lock()
        self._stopping = threading.Event()

    def command(self, port: int) -> list[str]:
        cmd = [self.python, "-m", "autogpt_cli.main", "serve", "--host", HOST, "--port", str(port),
               "--workspace", str(self.workspace)]
        if self.target.kind == "project":
            assert self.target.package is not None
            cmd += ["--agent", f"{self.target.package}.agent:{class_name(self.target.package)}"]
        if self.model:
            cmd += ["--model", self.model]
        return cmd

    def environment(self) -> dict[str, str]:
        env = dict(self.base_env)
        # Our own server on loopback: no key to send (a developer's AUTOGPT_API_KEY would lock us out).
        env.pop("AUTOGPT_API_KEY", None)
        env["PYTHONUNBUFFERED"] = "1"
        if self.target.kind == "project" and self.target.folder is not None:  # importable without installing
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.target.folder), env.get("PYTHONPATH")) if p)
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            await asyncio.to_thread(self._start)

    def _start(self) -> None:
        with self._proc_lock:
            self._stopping.clear()
            self._start_locked()

    def _start_locked(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        cwd = self.target.folder if self.target.folder is not None else Path.cwd()
        for _ in range(3):  # a free port can be taken between our probe and the server's bind
            port = free_port()
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(
                    self.command(port), cwd=cwd, env=self.environment(), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            _started.add(self)
            url = f"http://{HOST}:{port}"
            if self._wait_ready(url):
                self.url = url
                return
            if "already in use" not in self._log_tail():
                break
        code = self.proc.poll() if self.proc is not None else None
        self._kill_locked()
        if self._stopping.is_set():
            raise AgentStartError(f"the agent server ({self.label}) was stopped while starting")
        what = f"exited (code {code})" if code is not None else f"did not answer within {self.start_timeout:g} s"
        raise AgentStartError(f"the agent server ({self.label}) {what}; log {self.log}:\n{self._log_tail()}")

    def _wait_ready(self, url: str) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(trust_env=False, timeout=1.0) as http:
            while time.monotonic() < deadline and not self._stopping.is_set():
                if self.proc.poll() is not None:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(url + "/heartbeat").status_code == 200:
                        return True
                time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").rstrip().splitlines()[-lines:])
        except OSError:
            return ""

    def death(self) -> str | None:
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            return None
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    async def confirm_death(self, wait: float = 2.0) -> str | None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(proc.wait, wait)
        return self.death()

    async def restart(self, generation: int) -> None:
        async with self._lock:
            if generation != self.generation:
                return  # another attempt restarted it already
            await asyncio.to_thread(self._kill)
            self.generation += 1
            await asyncio.to_thread(self._start)

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.to_thread(self._kill)

    def _kill(self, grace: float = STOP_GRACE) -> None:
        with self._proc_lock:
            self._kill_locked(grace)

    def _kill_locked(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to its process group, SIGKILL after GRACE. The child is not reaped before, so its pid and
        group cannot belong to another program."""
        _started.discard(self)
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left in its group


def kill_started_servers() -> None:
    """SIGKILL every server this process started and has not stopped (the CLI's last resort on a second
    Ctrl-C, when the orderly stop was cut short). Each is our unreaped child: its group is still its own."""
    for server in list(_started):
        proc = server.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _started.discard(server)
