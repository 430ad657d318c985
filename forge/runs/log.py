"""The run event log: one append-only JSONL file per run, plus an atomically replaced state file.

    <workspace>/runs/<run_id>/events.jsonl   every event, one JSON object per line
    <workspace>/runs/<run_id>/state.json     a snapshot (status, steps, tokens, cost) for listings

Each event is written with a single `os.write` on an `O_APPEND` descriptor, so it reaches the OS
before the call returns: a killed process loses nothing it recorded, and a torn last line (power
loss) is skipped on read. Secrets found in the environment are redacted before anything is written.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from forge.errors import RunError, WorkspaceError
from forge.security.permissions import private_dir
from forge.security.secrets import REDACTED, secret_values

EVENTS_FILE = "events.jsonl"
STATE_FILE = "state.json"


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
    """Append events and keep the state snapshot of one run."""

    def __init__(
        self,
        run_dir: Path,
        *,
        listener: Callable[[dict[str, Any]], None] | None = None,
        extra_secrets: Iterable[str] = (),
    ):
        self.dir = run_dir
        self.run_id = run_dir.name
        self.listener = listener
        # Env secrets plus any the caller knows of (e.g. the credentials store), longest first.
        self._secrets = sorted(set(secret_values()) | {s for s in extra_secrets if len(s) >= 6}, key=len, reverse=True)
        self._seq = 0
        self._fd: int | None = None

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
        log._seq = sum(1 for _ in log.events())
        return log

    # Writing --------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """Replace secret values from the environment (read when the log was opened)."""
        for value in self._secrets:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def append(self, type: str, **data: Any) -> dict[str, Any]:
        self._seq += 1
        event = {"seq": self._seq, "ts": time.time(), "type": type, **data}
        line = self.redact(json.dumps(event, ensure_ascii=False, default=str)) + "\n"
        if self._fd is None:
            self._fd = os.open(self.dir / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, line.encode("utf-8"))
        if self.listener is not None:
            self.listener(json.loads(line) if self._secrets else event)
        return event

    def write_state(self, state: dict[str, Any]) -> None:
        state = json.loads(self.redact(json.dumps(state, default=str)))
        write_json_atomic(self.dir / STATE_FILE, state)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # Reading --------------------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        return read_events(self.dir)

    def state(self) -> dict[str, Any]:
        return read_state(self.dir)


def read_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn write from a crash: everything before it is intact
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


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
        state = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"run_id": run_dir.name, "status": "unknown"}
    if state.get("status") == "running" and not _alive(state.get("pid")):
        state["status"] = "interrupted"
    return state


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """State snapshots of every run, newest first."""
    if not runs_dir.is_dir():
        return []
    runs = [read_state(d) for d in runs_dir.iterdir() if (d / EVENTS_FILE).is_file()]
    return sorted(runs, key=lambda s: str(s.get("created_at", s.get("run_id", ""))), reverse=True)
