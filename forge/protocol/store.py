"""Tasks, steps and artifacts of the Agent Protocol server, kept in one SQLite file.

Why SQLite rather than the run event log alone: a task exists before its agent has a run (the agent
starts on the first step), step and artifact ids and uploads belong to the protocol, not to the
agent, and listings need counts and pages. SQLite gives atomic updates that survive a kill -9 (WAL),
ordered pages and one file in the serve workspace, from the standard library. The agent's own state
stays in its run event log; a task row only points at the run (`run_id`).

All calls happen on the server's event-loop thread (they take well under a millisecond), so writes
are serialised without a lock.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forge.protocol.models import Artifact, Step, StepStatus, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT UNIQUE NOT NULL,
    input TEXT,
    additional_input TEXT,
    run_id TEXT,
    finished INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    step_id TEXT UNIQUE NOT NULL,
    task_id TEXT NOT NULL,
    input TEXT,
    additional_input TEXT,
    name TEXT,
    status TEXT NOT NULL,
    output TEXT,
    additional_output TEXT,
    is_last INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_by_task ON steps(task_id, seq);
CREATE TABLE IF NOT EXISTS artifacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    artifact_id TEXT UNIQUE NOT NULL,
    task_id TEXT NOT NULL,
    step_id TEXT,
    agent_created INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    relative_path TEXT NOT NULL,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    UNIQUE(task_id, relative_path)
);
CREATE INDEX IF NOT EXISTS artifacts_by_step ON artifacts(step_id);
"""

log = logging.getLogger(__name__)
CHECKPOINT_INTERVAL_S = 1.0
INTERRUPTED = "the server stopped while this step was running; send another step to continue the task"


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


@dataclass
class TaskRow:
    task_id: str
    input: str | None
    additional_input: dict[str, Any] | None
    run_id: str | None
    finished: bool


class Store:
    def __init__(self, path: Path, checkpoint_interval: float = CHECKPOINT_INTERVAL_S):
        self.path = path
        # isolation_level=None: autocommit, explicit BEGIN where several writes must land together.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a process kill; fsync at checkpoints
        self.db.executescript(SCHEMA)
        # A checkpoint fsyncs the database: done by a commit on the event loop it stalls every request in
        # flight (the p99 of a busy server). A thread with its own connection checkpoints instead.
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, args=(checkpoint_interval,), name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self, interval: float) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never waits for, nor blocks, a writer
                except sqlite3.Error as e:
                    log.warning("checkpoint of %s failed: %s", self.path, e)
        finally:
            db.close()

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join()
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:  # the WAL stays; the next open replays it
            log.warning("final checkpoint of %s failed: %s", self.path, e)
        self.db.close()

    def recover_interrupted_steps(self) -> int:
        """Steps left running by a killed server become completed with the error (the spec has no
        failed status); their tasks can go on."""
        now = time.time()
        extra = _json({"error": INTERRUPTED})
        cur = self.db.execute(
            "UPDATE steps SET status=?, output=?, additional_output=?, modified_at=? WHERE status!=?",
            (StepStatus.COMPLETED, f"Error: {INTERRUPTED}", extra, now, StepStatus.COMPLETED),
        )
        return cur.rowcount

    # Tasks ----------------------------------------------------------------------------------
    def create_task(self, input: str | None, additional_input: dict[str, Any] | None) -> Task:
        now = time.time()
        task_id = str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO tasks(task_id, input, additional_input, created_at, modified_at) VALUES (?,?,?,?,?)",
            (task_id, input, _json(additional_input), now, now),
        )
        return Task(task_id=task_id, input=input, additional_input=additional_input, artifacts=[],
                    created_at=_ts(now), modified_at=_ts(now))

    def task_row(self, task_id: str) -> TaskRow | None:
        r = self.db.execute(
            "SELECT task_id, input, additional_input, run_id, finished FROM tasks WHERE task_id=?", (task_id,)
        ).fetchone()
        if r is None:
            return None
        return TaskRow(r["task_id"], r["input"], _loads(r["additional_input"]), r["run_id"], bool(r["finished"]))

    def get_task(self, task_id: str) -> Task | None:
        r = self.db.execute("SELECT * FROM tasks WHERE task_id=?", (task_id,)).fetchone()
        return None if r is None else self._task(r, self.task_artifacts(task_id))

    def list_tasks(self, offset: int, limit: int) -> tuple[list[Task], int]:
        total = self.db.execute("SELECT count(*) FROM tasks").fetchone()[0]
        rows = self.db.execute("SELECT * FROM tasks ORDER BY seq LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [self._task(r, self.task_artifacts(r["task_id"])) for r in rows], total

    def set_run(self, task_id: str, run_id: str) -> None:
        self.db.execute("UPDATE tasks SET run_id=?, modified_at=? WHERE task_id=?", (run_id, time.time(), task_id))

    def set_finished(self, task_id: str) -> None:
        self.db.execute("UPDATE tasks SET finished=1, modified_at=? WHERE task_id=?", (time.time(), task_id))

    @staticmethod
    def _task(r: sqlite3.Row, artifacts: list[Artifact]) -> Task:
        return Task(task_id=r["task_id"], input=r["input"], additional_input=_loads(r["additional_input"]),
                    artifacts=artifacts, created_at=_ts(r["created_at"]), modified_at=_ts(r["modified_at"]))

    # Steps ----------------------------------------------------------------------------------
    def create_step(self, task_id: str, input: str | None, additional_input: dict[str, Any] | None) -> Step:
        now = time.time()
        step_id = str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO steps(step_id, task_id, input, additional_input, status, created_at, modified_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (step_id, task_id, input, _json(additional_input), StepStatus.RUNNING, now, now),
        )
        return Step(task_id=task_id, step_id=step_id, input=input, additional_input=additional_input,
                    status=StepStatus.RUNNING, created_at=_ts(now), modified_at=_ts(now))

    def complete_step(
        self, step_id: str, *, name: str | None, output: str | None, additional_output: dict[str, Any] | None,
        is_last: bool,
    ) -> None:
        self.db.execute(
            "UPDATE steps SET status=?, name=?, output=?, additional_output=?, is_last=?, modified_at=? "
            "WHERE step_id=?",
            (StepStatus.COMPLETED, name, output, _json(additional_output), int(is_last), time.time(), step_id),
        )

    def get_step(self, task_id: str, step_id: str) -> Step | None:
        r = self.db.execute("SELECT * FROM steps WHERE task_id=? AND step_id=?", (task_id, step_id)).fetchone()
        return None if r is None else self._step(r)

    def list_steps(self, task_id: str, offset: int, limit: int) -> tuple[list[Step], int]:
        total = self.db.execute("SELECT count(*) FROM steps WHERE task_id=?", (task_id,)).fetchone()[0]
        rows = self.db.execute(
            "SELECT * FROM steps WHERE task_id=? ORDER BY seq LIMIT ? OFFSET ?", (task_id, limit, offset)
        ).fetchall()
        return [self._step(r) for r in rows], total

    def _step(self, r: sqlite3.Row) -> Step:
        artifacts = [self._artifact(a) for a in self.db.execute(
            "SELECT * FROM artifacts WHERE step_id=? ORDER BY seq", (r["step_id"],)
        )]
        return Step(
            task_id=r["task_id"], step_id=r["step_id"], input=r["input"],
            additional_input=_loads(r["additional_input"]), name=r["name"],
            status=StepStatus(r["status"]), output=r["output"],
            additional_output=_loads(r["additional_output"]), artifacts=artifacts, is_last=bool(r["is_last"]),
            created_at=_ts(r["created_at"]), modified_at=_ts(r["modified_at"]),
        )

    # Artifacts ------------------------------------------------------------------------------
    def upsert_artifact(
        self, task_id: str, relative_path: str, *, agent_created: bool, step_id: str | None = None,
        mtime: float | None = None,
    ) -> Artifact:
        """One artifact per file path of a task: a file written again keeps its id, with a new modified_at."""
        now = time.time()
        modified = mtime if mtime is not None else now
        r = self.db.execute(
            "SELECT * FROM artifacts WHERE task_id=? AND relative_path=?", (task_id, relative_path)
        ).fetchone()
        if r is not None:
            self.db.execute("UPDATE artifacts SET modified_at=? WHERE seq=?", (modified, r["seq"]))
            return self._artifact(r).model_copy(update={"modified_at": _ts(modified)})
        artifact_id = str(uuid.uuid4())
        file_name = relative_path.rsplit("/", 1)[-1]
        self.db.execute(
            "INSERT INTO artifacts(artifact_id, task_id, step_id, agent_created, file_name, relative_path, "
            "created_at, modified_at) VALUES (?,?,?,?,?,?,?,?)",
            (artifact_id, task_id, step_id, int(agent_created), file_name, relative_path, modified, modified),
        )
        return Artifact(artifact_id=artifact_id, agent_created=agent_created, file_name=file_name,
                        relative_path=relative_path, created_at=_ts(modified), modified_at=_ts(modified))

    def get_artifact(self, task_id: str, artifact_id: str) -> Artifact | None:
        r = self.db.execute(
            "SELECT * FROM artifacts WHERE task_id=? AND artifact_id=?", (task_id, artifact_id)
        ).fetchone()
        return None if r is None else self._artifact(r)

    def task_artifacts(self, task_id: str) -> list[Artifact]:
        rows = self.db.execute("SELECT * FROM artifacts WHERE task_id=? ORDER BY seq", (task_id,))
        return [self._artifact(r) for r in rows]

    def list_artifacts(self, task_id: str, offset: int, limit: int) -> tuple[list[Artifact], int]:
        total = self.db.execute("SELECT count(*) FROM artifacts WHERE task_id=?", (task_id,)).fetchone()[0]
        rows = self.db.execute(
            "SELECT * FROM artifacts WHERE task_id=? ORDER BY seq LIMIT ? OFFSET ?", (task_id, limit, offset)
        ).fetchall()
        return [self._artifact(r) for r in rows], total

    @staticmethod
    def _artifact(r: sqlite3.Row) -> Artifact:
        return Artifact(artifact_id=r["artifact_id"], agent_created=bool(r["agent_created"]),
                        file_name=r["file_name"], relative_path=r["relative_path"],
                        created_at=_ts(r["created_at"]), modified_at=_ts(r["modified_at"]))
