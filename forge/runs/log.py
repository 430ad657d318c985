"""The run event log: one append-only JSONL file per run, plus an atomically replaced state file.

    <workspace>/runs/<run_id>/events.jsonl   every event, one JSON object per line
    <workspace>/runs/<run_id>/state.json     a snapshot (status, steps, tokens, cost) for listings

Each event is written with a single `os.write` on an `O_APPEND` descriptor, so it reaches the OS
before the call returns: a killed process loses nothing it recorded, and a torn last line (power
loss) is skipped on read and closed off before the next append. Secrets (the `Redactor` given, or
the environment's) are redacted before anything is written; any text can be stored (lone
surrogates become U+FFFD).

One process drives a run at a time: `lock_driver()` takes an exclusive `flock` on the run's
`driver.lock` for as long as the log is open, and a second driver gets a RunError naming the pid.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from forge.errors import RunError, WorkspaceError
from forge.events.models import Event, parse_agent_event
from forge.events.sinks import E, stamp_and_redact
from forge.security.permissions import private_dir
from forge.security.secrets import Redactor
from forge.security.untrusted_text import clean_text

EVENTS_FILE = "events.jsonl"
STATE_FILE = "state.json"
LOCK_FILE = "driver.lock"


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same folder, then rename over the target."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunLog:
    """Append events and keep the state snapshot of one run: the durable `EventSink`.

    `parse` turns a stored line back into a typed event (agent events by default; workflow runs
    pass `parse_workflow_event`)."""

    def __init__(
        self,
        run_dir: Path,
        *,
        listener: Callable[[Any], None] | None = None,
        extra_secrets: Iterable[str] = (),
        redactor: Redactor | None = None,
        parse: Callable[[dict[str, Any]], Any] = parse_agent_event,
    ):
        self.dir = run_dir
        self.run_id = run_dir.name
        self.listener = listener
        self.parse = parse
        self._redactor = redactor
        self._extra_secrets = tuple(extra_secrets)
        self._seq = 0
        self._fd: int | None = None
        self._lock_fd: int | None = None

    @property
    def redactor(self) -> Redactor:
        """Env secrets plus any the caller knows of (e.g. the credentials store); built on first write,
        so a log opened only to be read never scans the environment."""
        if self._redactor is None:
            self._redactor = Redactor.from_environment(extra=self._extra_secrets)
        return self._redactor

    # Creation / opening ---------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: Path, run_id: str | None = None, **kwargs: Any) -> RunLog:
        run_dir = runs_dir / (run_id or new_run_id())
        try:
            private_dir(runs_dir)
            run_dir.mkdir(mode=0o700, exist_ok=False)
        except FileExistsError:
            raise RunError(f"run {run_dir.name} already exists; pick another id") from None
        except OSError as e:
            raise WorkspaceError(
                f"cannot create {run_dir} ({e.strerror}); choose a writable folder with --workspace DIR"
            ) from None
        return cls(run_dir, **kwargs)

    @classmethod
    def open(cls, runs_dir: Path, run_id: str, **kwargs: Any) -> RunLog:
        run_dir = runs_dir / run_id
        if not (run_dir / EVENTS_FILE).is_file():
            raise RunError(
                f"no run {run_id!r} under {runs_dir}; list runs with `autogpt runs list` "
                "(and the same --workspace)"
            )
        log = cls(run_dir, **kwargs)
        log._seq = sum(1 for _ in read_events(run_dir))
        return log

    # Driving --------------------------------------------------------------------------------
    def lock_driver(self) -> None:
        """Become the run's only driver until close(); RunError if another process drives it."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 32, 0).decode().strip() or "?"
            except (OSError, UnicodeDecodeError):
                holder = "?"
            os.close(fd)
            raise RunError(
                f"run {self.run_id} is being driven by another process (pid {holder}); wait for it to end "
                f"or stop it (kill {holder}) before resuming"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    # Writing --------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """Replace known secret values (read when the log was opened) and token-shaped text."""
        return self.redactor.text(text)

    def emit(self, event: E) -> E:
        """Write a typed event; the listener gets it as stored (stamped, redacted)."""
        self._seq += 1
        event, line = stamp_and_redact(event, self._seq, self.redactor)
        self._write(line)
        if self.listener is not None:
            self.listener(event)
        return event

    def append(self, type: str, **data: Any) -> Event:
        """Write an event given as its type name and fields (typed through `parse`)."""
        return self.emit(self.parse({"type": type, **data}))

    def _write(self, line: str) -> None:
        if self._fd is None:
            self._fd = self._open_for_append()
        os.write(self._fd, (line + "\n").encode("utf-8"))

    def _open_for_append(self) -> int:
        fd = os.open(self.dir / EVENTS_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A torn last line (a crash mid-write): end it, or the next event would be glued to it.
            os.write(fd, b"\n")
        return fd

    def write_state(self, state: dict[str, Any]) -> None:
        write_json_atomic(self.dir / STATE_FILE, json.loads(clean_text(self.redact(json.dumps(state, default=str)))))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # Reading --------------------------------------------------------------------------------
    def events(self) -> Iterator[Any]:
        """Every stored event, typed (unknown types as `UnknownEvent`)."""
        return (self.parse(ev) for ev in read_events(self.dir))

    def state(self) -> dict[str, Any]:
        return read_state(self.dir)


def read_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn write from a crash: everything before it is intact
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue  # a torn line closed off by a later append
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                yield event


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True  # someone else's process, or no pid recorded: do not guess
    return True


def read_state(run_dir: Path) -> dict[str, Any]:
    """The run's snapshot. A run still marked running whose process is gone was killed: it is
    reported as `interrupted` (resumable)."""
    try:
        state = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        state = None
    if not isinstance(state, dict):  # missing, unreadable or damaged: still listed, never a crash
        return {"run_id": run_dir.name, "status": "unknown"}
    state["run_id"] = run_dir.name
    if state.get("status") == "running" and not _alive(state.get("pid")):
        state["status"] = "interrupted"
    return state


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """State snapshots of every run, newest first."""
    if not runs_dir.is_dir():
        return []
    runs = [read_state(d) for d in runs_dir.iterdir() if not d.name.startswith(".") and (d / EVENTS_FILE).is_file()]
    return sorted(runs, key=lambda s: str(s.get("created_at", s.get("run_id", ""))), reverse=True)


def is_driven(run_dir: Path) -> bool:
    """True while a process drives the run (holds its driver lock, or its state says running and
    its process is alive)."""
    if read_state(run_dir).get("status") == "running":
        return True
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock if we got it
    return False


def delete_run(runs_dir: Path, run_id: str) -> None:
    """Remove a stored run (its events, state and kept file versions). RunError while it is driven."""
    import shutil

    run_dir = runs_dir / run_id
    if "/" in run_id or run_id in ("", ".", "..") or not (run_dir / EVENTS_FILE).is_file():
        raise RunError(f"no run {run_id!r} under {runs_dir}; see `autogpt runs list`")
    if is_driven(run_dir):
        raise RunError(f"run {run_id} is running; stop it (Ctrl-C in its terminal) before deleting it")
    # Renamed first, so a crash mid-delete never leaves a half-deleted run that still lists.
    trash = runs_dir / f".deleting-{run_id}"
    shutil.rmtree(trash, ignore_errors=True)  # left by a delete that was killed
    os.replace(run_dir, trash)
    shutil.rmtree(trash)
