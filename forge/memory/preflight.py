"""What runs on a memory store before Chroma opens it, under the store's lock.

Chroma writes to a store as soon as it opens it (even to read), so every check that must leave a
damaged store byte-for-byte as it was happens here first, with Python's sqlite3 and plain reads.

Two things a killed writer leaves behind are repaired, because the committed data is intact:

- a hot SQLite rollback journal (or WAL): opening the database read-write rolls it back, which is
  SQLite's own recovery; a read-only open cannot and fails with "attempt to write a readonly database";
- a torn HNSW index (see hnsw_files.py). Chroma logs every write in its queue table
  (`embeddings_queue`, inside the SQLite transaction) before it touches the index, and this project
  turns off the queue's purge (`automatically_purge`), so the queue holds every vector ever added.
  A torn index is moved aside (`<segment>.torn-<time>`, never deleted) and Chroma rebuilds it
  from the queue on first use. Only after a writer died (its pid is still in the lock file) is
  an inconsistent index treated as torn; otherwise it is damage, reported and left alone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forge.memory.hnsw_files import SegmentDamage, check_segment, has_index

SQLITE_FILE = "chroma.sqlite3"
SQLITE_MAGIC = b"SQLite format 3\x00"
LOCK_FILE = "writer.lock"
# Chroma's queue config row (sqlite_log.rs LegacyEmbeddingsQueueConfig): keep every logged write.
KEEP_LOG = {"automatically_purge": False, "_type": "EmbeddingsQueueConfigurationInternal"}
# `PRAGMA quick_check` reads every page: it finds garbled pages before Chroma writes near them.
QUICK_CHECK = True


class StoreProblem(Exception):
    """Why a store cannot be opened. `kind`: damaged | inaccessible | busy; `detail` says what, briefly."""

    def __init__(self, kind: str, detail: str):
        detail = " ".join(detail.split())  # SQLite's reports span lines; an error is one line
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class StoreState:
    exists: bool  # a database Chroma can open; False: nothing stored yet
    recorded: dict[str, Any] = field(default_factory=dict)  # the collection's {"embedder", "dim", ...}
    keeps_log: bool = False  # the queue purge is off
    recovered: list[str] = field(default_factory=list)  # what was repaired, for the log


def _connect_ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def _damage_or_access(e: BaseException, what: str) -> StoreProblem:
    detail = f"{what}: {getattr(e, 'strerror', None) or e}"
    if isinstance(e, PermissionError) or "unable to open" in str(e) or "readonly" in str(e):
        return StoreProblem("inaccessible", detail)
    if "locked" in str(e):  # a process outside autogpt (an sqlite3 shell) holds the database
        return StoreProblem("busy", detail)
    return StoreProblem("damaged", detail)


def _data_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def inspect(folder: Path, *, crashed: bool, may_repair: bool, keep_log: bool) -> StoreState:
    """Check (and repair what a killed writer left) before Chroma opens `folder`.

    `crashed`: a writer died holding the store; `may_repair`: we hold the store alone (a torn index
    may be rebuilt); `keep_log`: turn the queue purge off (writers). Raises StoreProblem.
    """
    try:
        return _inspect(folder, crashed=crashed, may_repair=may_repair, keep_log=keep_log)
    except StoreProblem:
        raise
    except sqlite3.Error as e:
        raise _damage_or_access(e, SQLITE_FILE) from None
    except OSError as e:
        raise _damage_or_access(e, Path(e.filename or folder).name) from None


def _inspect(folder: Path, *, crashed: bool, may_repair: bool, keep_log: bool) -> StoreState:
    db = folder / SQLITE_FILE
    try:
        st = db.lstat()
    except FileNotFoundError:
        st = None
    dirs = _data_dirs(folder)
    if st is None or st.st_size == 0:
        if dirs:  # Chroma would start a new database here and orphan the vectors beside it
            what = "missing" if st is None else "empty (0 bytes)"
            raise StoreProblem("damaged", f"{SQLITE_FILE} is {what} beside vector data ({', '.join(dirs[:2])})")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise StoreProblem("damaged", f"{SQLITE_FILE} is not a file")
        return StoreState(exists=False)  # nothing stored yet (or a creation that was cut short)
    if not stat.S_ISREG(st.st_mode):
        raise StoreProblem("damaged", f"{SQLITE_FILE} is not a file")
    with open(db, "rb") as f:
        if f.read(16) != SQLITE_MAGIC:
            raise StoreProblem("damaged", f"{SQLITE_FILE} is not an SQLite database")

    state = StoreState(exists=True)
    for suffix in ("-journal", "-wal"):
        if (folder / (SQLITE_FILE + suffix)).exists():
            _roll_back(db)
            state.recovered.append(f"rolled back the interrupted write in {SQLITE_FILE}{suffix}")

    conn = _connect_ro(db)
    try:
        if QUICK_CHECK:
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
            if problems != ["ok"]:
                raise StoreProblem("damaged", f"{SQLITE_FILE}: {'; '.join(problems)[:160]}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return StoreState(exists=False)  # Chroma's first open was cut short before its schema
        if not {"collections", "segments", "embeddings_queue"} <= tables:
            raise StoreProblem("damaged", f"{SQLITE_FILE} is not a Chroma database")
        row = conn.execute("SELECT id, dimension FROM collections WHERE name = ?", ("memories",)).fetchone()
        config = conn.execute("SELECT config_json_str FROM embeddings_queue_config WHERE id = 1").fetchone()
        state.keeps_log = _purge_is_off(config)
        if row is None:
            return state  # no collection yet: the writer creates it and turns the purge off then
        collection_id, dim = row
        state.recorded = {
            key: s if s is not None else i
            for key, s, i in conn.execute(
                "SELECT key, str_value, int_value FROM collection_metadata WHERE collection_id = ?", (collection_id,)
            )
        }
        segments = dict(conn.execute("SELECT scope, id FROM segments WHERE collection = ?", (collection_id,)))
        vector_segment = segments.get("VECTOR")
        if vector_segment:
            _check_vector_segment(conn, folder, collection_id, segments, dim, crashed=crashed,
                                  may_repair=may_repair, state=state)
        # Chroma purges the log below the index's last flush: with no flush yet the log is still
        # whole and worth keeping; after one (a store made before the log was kept) it is not.
        flushed = vector_segment and conn.execute(
            "SELECT 1 FROM max_seq_id WHERE segment_id = ?", (vector_segment,)).fetchone()
    finally:
        conn.close()
    if keep_log and not state.keeps_log and not flushed:
        keep_queue(db)
        state.keeps_log = True
    return state


def _purge_is_off(row: tuple[Any, ...] | None) -> bool:
    try:
        return row is not None and json.loads(row[0]).get("automatically_purge") is False
    except (TypeError, ValueError, AttributeError):
        return False


def _roll_back(db: Path) -> None:
    """Open read-write and read: SQLite rolls a hot journal back (or replays a WAL) on first access."""
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=10)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as e:
        msg = str(e)
        if "readonly" in msg or "unable to open" in msg:
            raise StoreProblem(
                "inaccessible", f"an interrupted write must be rolled back and {SQLITE_FILE} is not writable: {msg}"
            ) from None
        raise
    finally:
        conn.close()


def keep_queue(db: Path) -> None:
    """Turn Chroma's queue purge off, so a torn index can always be rebuilt from the queue."""
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=10)
    try:
        with conn:
            conn.execute(
                "INSERT INTO embeddings_queue_config (id, config_json_str) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET config_json_str = excluded.config_json_str",
                (json.dumps(KEEP_LOG),),
            )
    finally:
        conn.close()


def _check_vector_segment(
    conn: sqlite3.Connection,
    folder: Path,
    collection_id: str,
    segments: dict[str, str],
    dim: int | None,
    *,
    crashed: bool,
    may_repair: bool,
    state: StoreState,
) -> None:
    seg = folder / segments["VECTOR"]
    if not seg.exists():
        return  # nothing persisted yet: Chroma builds the index from the queue
    if not seg.is_dir():
        raise StoreProblem("damaged", f"{seg.name} is not a folder")
    if not has_index(seg):
        return  # Chroma ignores index files without an id map and starts a new index
    try:
        check_segment(seg, dim)
        return
    except SegmentDamage as e:
        damage = str(e)
    if not crashed:
        raise StoreProblem("damaged", f"vector index {seg.name}: {damage}")
    if not _queue_is_complete(conn, collection_id, segments.get("METADATA")):
        raise StoreProblem(
            "damaged",
            f"vector index {seg.name} was left half-written by a killed process ({damage}) and this store's "
            "log is incomplete (it was made before the log was kept), so it cannot be rebuilt",
        )
    if not may_repair:
        raise StoreProblem("busy", f"vector index {seg.name} must be rebuilt after a crash and another process "
                                   "is reading the store")
    _rebuild_later(folder, seg)
    state.recovered.append(f"moved the half-written vector index aside to {seg.name}.torn-*; rebuilt from the log")


def _queue_is_complete(conn: sqlite3.Connection, collection_id: str, metadata_segment: str | None) -> bool:
    """Every stored memory still has its logged vector (the purge never ran on this collection)."""
    if metadata_segment is None:
        return False
    topic = f"persistent://default/default/{collection_id}"
    missing = conn.execute(
        "SELECT count(*) FROM embeddings WHERE segment_id = ? AND embedding_id NOT IN "
        "(SELECT id FROM embeddings_queue WHERE topic = ? AND vector IS NOT NULL)",
        (metadata_segment, topic),
    ).fetchone()[0]
    return int(missing) == 0


def _rebuild_later(folder: Path, seg: Path) -> None:
    """Move the torn index aside and forget its position in the log: Chroma replays the whole log."""
    os.rename(seg, folder / f"{seg.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}")
    conn = sqlite3.connect(f"file:{folder / SQLITE_FILE}?mode=rw", uri=True, timeout=10)
    try:
        with conn:
            conn.execute("DELETE FROM max_seq_id WHERE segment_id = ?", (seg.name,))
    finally:
        conn.close()


def quick_check(folder: Path) -> str | None:
    """`PRAGMA quick_check` of the store's database: None when fine, else the first problems."""
    try:
        conn = _connect_ro(folder / SQLITE_FILE)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as e:
        return str(e)
    return None if problems == ["ok"] else " ".join("; ".join(problems).split())[:160]
