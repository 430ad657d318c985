"""An agent's long-term memory: a Chroma collection at `settings.memory_dir()`.

    store = MemoryStore.open(settings)                  # writer: holds the store's lock until close()
    store.add("The API key lives in .env", kind="note", run_id="r1", step=3)
    hits = store.search("where is the key?", top_k=5)    # best first, score = 1 - cosine distance
    store.close()

Vectors are computed here with an `Embedder` (never Chroma's embedding-function machinery, whose
default downloads a model) and the embedder's name and dimension are recorded in the collection
metadata, so a store is never searched with vectors from another space.

Concurrency: Chroma keeps each store's HNSW index in the memory of the process that opened it; two
processes on one store do not see each other's new vectors and both may write index files
(docs/architecture.md section 5). So every open takes an `fcntl.flock` on `<memory_dir>/writer.lock`: writers
exclusive, readers (`writer=False`, e.g. `autogpt memory search`) shared. A reader is refused while
an agent is running on the store, with the agent's pid, rather than shown stale results; any
number of readers may open together.

Crashes and damage (preflight.py): under the lock and before Chroma opens the store, what a killed
writer left half-done is recovered (a hot SQLite journal, a torn HNSW index rebuilt from Chroma's
log) and anything else that is not a sound store raises MemoryStoreError naming the folder and the
fix, with the files left byte-for-byte as they were. Chroma errors later (add, search, list, count)
are MemoryStoreErrors too.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge.errors import ConfigError
from forge.memory import preflight
from forge.memory.embeddings import Embedder, LiteLLMEmbedder, get_embedder
from forge.memory.preflight import LOCK_FILE, SQLITE_FILE, StoreProblem
from forge.security.permissions import private_dir

if TYPE_CHECKING:
    from forge.config import Settings

log = logging.getLogger(__name__)

COLLECTION = "memories"
ADD_BATCH = 256  # texts embedded and written per Chroma call in add_many (one SQLite transaction)
# HNSW search breadth: 100 gives recall@5 ~= brute force at 10k memories for ~1 ms a query.
HNSW = {"space": "cosine", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16}

__all__ = ["MemoryStore", "MemoryStoreError", "MemoryHit", "COLLECTION", "LOCK_FILE", "SQLITE_FILE"]


class MemoryStoreError(ConfigError):
    """The store is locked, damaged or built by another embedder; the message says what to do."""


@dataclass
class MemoryHit:
    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


def _clean_meta(meta: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Chroma takes scalar values only: drop None, JSON-encode anything else."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in meta.items():
        if value is None:
            continue
        out[str(key)] = value if isinstance(value, str | int | float | bool) else json.dumps(value, default=str)
    return out


def _static_dim(embedder: Embedder) -> int | None:
    """The embedder's dimension if known without a network call (litellm may need one)."""
    if isinstance(embedder, LiteLLMEmbedder):
        return embedder._dim
    return embedder.dim


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Fixes:
    """The one-line fixes of this store's errors, in the words of the command the user ran."""

    folder: Path
    agent_name: str
    agent_option: str | None  # "--agent" (memory commands), "--ai-name" (run), None (library)

    @property
    def other_agent(self) -> str:
        if self.agent_option:
            return f"{self.agent_option} {self.agent_name}-2"
        return "another agent name"

    def message(self, problem: StoreProblem) -> str:
        f = self.folder
        if problem.kind == "inaccessible":
            owner = _owner(f)
            return (f"memory store {f} is not accessible ({problem.detail}); give this user read and write "
                    f"access to it{owner} or use {self.other_agent}")
        if problem.kind == "busy":
            return f"memory store {f} is busy ({problem.detail}); retry when that process has finished"
        return (f"memory store {f} is damaged ({problem.detail}); set it aside to keep it "
                f"(mv {f} {f}.damaged) and start a new one, or use {self.other_agent}")


def _owner(folder: Path) -> str:
    try:
        uid = folder.stat().st_uid
    except OSError:
        return ""
    return "" if uid == os.getuid() else f" (it belongs to uid {uid})"


class _StoreLock:
    """flock on the lock file: exclusive for the writer (which writes its pid there), shared for readers.

    A pid left in the file by a writer that no longer holds the lock means that writer was killed
    (release() empties the file): `crashed` tells the pre-flight to look for a torn index.
    """

    def __init__(self, folder: Path, exclusive: bool):
        self.path = folder / LOCK_FILE
        self.exclusive = exclusive
        self.fd: int | None = None
        self.crashed = False
        self._marked = False

    def acquire(self, busy_hint: str) -> None:
        fd = self._open()
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            folder = self.path.parent
            if self.exclusive:
                raise MemoryStoreError(
                    f"memory store {folder} is in use by {holder}; Chroma allows one process per store: "
                    f"wait for it to finish, stop it, or use {busy_hint}"
                ) from None
            raise MemoryStoreError(
                f"memory store {folder} is in use by a running agent ({holder}); Chroma does not share a store "
                "between processes, so read it when that run ends"
            ) from None
        self.fd = fd
        self.crashed = bool(self._read_pid())  # we hold the lock, so that writer is gone

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            if self.exclusive or not self.path.is_file():
                raise
            return os.open(self.path, os.O_RDONLY)  # a reader of a store it may not write to

    def exclusive_now(self) -> bool:
        """Try to hold the store alone (a reader that must repair it); False if other readers are in."""
        assert self.fd is not None
        if self.exclusive:
            return True
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._reacquire_shared()  # a failed conversion may have dropped the shared lock
            return False
        return True

    def shared_again(self) -> None:
        if not self.exclusive:
            self._reacquire_shared()

    def _reacquire_shared(self) -> None:
        assert self.fd is not None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise MemoryStoreError(
                f"memory store {self.path.parent} was taken by another process while it was checked; retry"
            ) from None

    def mark_running(self) -> None:
        """Writers: record our pid (the crash marker for the next open) once the store is known sound."""
        assert self.fd is not None
        if self.exclusive:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
            self._marked = True

    def clear_crash(self) -> None:
        """The crash a pid in the file recorded has been dealt with (we hold the store alone)."""
        assert self.fd is not None
        if self.crashed:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass  # a reader without write access: the next writer clears it
            self.crashed = False

    def _read_pid(self) -> int:
        assert self.fd is not None
        try:
            return int(os.pread(self.fd, 32, 0).decode().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _holder(self, fd: int) -> str:
        try:
            pid = int(os.pread(fd, 32, 0).decode().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid and _pid_alive(pid):
            return f"pid {pid}"
        return "another process (a reader such as `autogpt memory search`)"

    def release(self) -> None:
        if self.fd is None:
            return
        if self._marked:
            os.ftruncate(self.fd, 0)  # a clean exit: no stale pid for the next open
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
        self._marked = False


class MemoryStore:
    """One agent's memories. Open with `MemoryStore.open(settings)`; close() releases the lock."""

    def __init__(self, folder: Path, embedder: Embedder, lock: _StoreLock, fixes: _Fixes):
        self.path = folder
        self.embedder = embedder
        self.writer = lock.exclusive
        self._lock = lock
        self._fixes = fixes
        self._client: Any = None
        self._collection: Any = None

    # Opening ----------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        writer: bool = True,
        allow_mismatch: bool = False,
        agent_option: str | None = None,
    ) -> MemoryStore:
        """Open (a writer creates) the store of `settings.agent_name`.

        `allow_mismatch=True` skips the embedder check; only `clear()` is safe on such a store.
        `agent_option` is the option that picks the agent in the command the user ran ("--agent",
        "--ai-name"): error messages name it.
        """
        folder = Path(settings.memory_dir())
        embedder = embedder or get_embedder(settings.embedding_model, settings)
        fixes = _Fixes(folder, settings.agent_name, agent_option)
        lock = _StoreLock(folder, exclusive=writer)
        if not writer and not folder.exists():
            return cls(folder, embedder, lock, fixes)  # nothing stored yet; creates nothing
        try:
            if folder.exists() and not folder.is_dir():
                raise StoreProblem("damaged", f"{folder.name} is not a folder")
            private_dir(folder, root=settings.workspace)
            lock.acquire(fixes.other_agent)
        except StoreProblem as e:
            raise MemoryStoreError(fixes.message(e)) from None
        except OSError as e:
            kind = "inaccessible" if isinstance(e, PermissionError) else "damaged"
            detail = f"{Path(e.filename or folder).name}: {e.strerror}"
            raise MemoryStoreError(fixes.message(StoreProblem(kind, detail))) from None
        store = cls(folder, embedder, lock, fixes)
        try:
            state = store._preflight()
            if state.recorded and not allow_mismatch:
                cls._check_embedder(fixes, state.recorded, embedder, settings.agent_name)
            if state.exists or writer:
                store._connect(create=writer, keeps_log=state.keeps_log)
            lock.mark_running()
        except BaseException:
            store.close()
            raise
        return store

    def _preflight(self) -> preflight.StoreState:
        lock = self._lock
        alone = lock.exclusive
        if lock.crashed and not alone:
            alone = lock.exclusive_now()  # a reader may repair too if no other reader is in
        try:
            state = preflight.inspect(self.path, crashed=lock.crashed, may_repair=alone, keep_log=self.writer)
            if alone:
                lock.clear_crash()  # checked (and repaired) while nobody else was in
        except StoreProblem as e:
            raise MemoryStoreError(self._fixes.message(e)) from None
        finally:
            if alone and not lock.exclusive:
                lock.shared_again()
        for what in state.recovered:
            log.warning("memory store %s: %s", self.path, what)
        return state

    @staticmethod
    def _check_embedder(fixes: _Fixes, recorded: dict[str, Any], embedder: Embedder, agent: str) -> None:
        name, dim = recorded.get("embedder"), recorded.get("dim")
        if name is None:
            return
        new_dim = _static_dim(embedder)
        if name != embedder.name or (dim is not None and new_dim is not None and int(dim) != new_dim):
            raise MemoryStoreError(
                f"memory store {fixes.folder} holds {name} vectors (dim {dim}) but embedding_model is "
                f"{embedder.name} (dim {new_dim or '?'}); set AUTOGPT_EMBEDDING_MODEL={name}, use "
                f"{fixes.other_agent}, or empty it with `autogpt memory clear --agent {agent} --yes`"
            )

    def _connect(self, *, create: bool, keeps_log: bool) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        def client() -> Any:
            # Telemetry off: nothing may connect out (and the tests' socket guard would refuse it).
            return chromadb.PersistentClient(
                path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )

        with self._chroma_errors("opening it"):
            self._client = client()
            # get, then create only if missing: get_or_create could rewrite the recorded metadata.
            names = {getattr(c, "name", c) for c in self._client.list_collections()}
            if COLLECTION in names:
                self._collection = self._client.get_collection(COLLECTION, embedding_function=None)
            elif create:
                self._collection = self._create_collection()
                if not keeps_log:
                    # A new store: Chroma made its schema just now. Turn the log purge off before
                    # the first add, with Chroma closed (two SQLite libraries must not share open
                    # transactions on one file), then reopen.
                    self._client.close()
                    self._client = self._collection = None
                    preflight.keep_queue(self.path / SQLITE_FILE)
                    self._client = client()
                    self._collection = self._client.get_collection(COLLECTION, embedding_function=None)

    def _create_collection(self) -> Any:
        # The embedder's name and dim are checked on every later open (see _check_embedder).
        metadata = {"embedder": self.embedder.name, "dim": self.embedder.dim, "created": time.time()}
        return self._client.create_collection(
            COLLECTION, configuration={"hnsw": dict(HNSW)},  # type: ignore[arg-type]
            metadata=metadata, embedding_function=None,
        )

    @contextmanager
    def _chroma_errors(self, action: str) -> Iterator[None]:
        """Whatever Chroma raises becomes one MemoryStoreError with the likely fix."""
        try:
            yield
        except MemoryStoreError:
            raise
        except Exception as e:
            raise MemoryStoreError(self._explain(e, action)) from None

    def _explain(self, e: Exception, action: str) -> str:
        text = " ".join(str(e).split())[:200]
        lowered = text.lower()
        if isinstance(e, OSError) and e.errno == 28 or "disk is full" in lowered or "no space" in lowered:
            return f"memory store {self.path} failed while {action}: the disk is full; free some space and retry"
        if isinstance(e, PermissionError) or "readonly" in lowered or "permission denied" in lowered:
            return self._fixes.message(StoreProblem("inaccessible", text))
        if "database is locked" in lowered:  # a process outside autogpt (an sqlite3 shell) holds it
            return self._fixes.message(StoreProblem("busy", text))
        damage = preflight.quick_check(self.path)  # read-only: is the database itself damaged?
        detail = f"{SQLITE_FILE}: {damage}" if damage else f"{type(e).__name__} while {action}: {text}"
        return self._fixes.message(StoreProblem("damaged", detail))

    def _require_writer(self) -> Any:
        if not self.writer or self._collection is None:
            raise MemoryStoreError(f"memory store {self.path} was opened read-only; open it with writer=True")
        return self._collection

    # Writing ----------------------------------------------------------------------------------
    def add(self, text: str, *, kind: str = "note", run_id: str | None = None, step: int | None = None,
            **meta: Any) -> str:
        """Store one memory; returns its id. Metadata gets kind, run_id, step and ts (epoch seconds)."""
        return self.add_many([text], [{**meta, "kind": kind, "run_id": run_id, "step": step}])[0]

    def add_many(self, texts: list[str], metadatas: list[dict[str, Any]] | None = None) -> list[str]:
        """Store many memories in batches (embedding and SQLite both amortise per call)."""
        collection = self._require_writer()
        metadatas = metadatas if metadatas is not None else [{} for _ in texts]
        if len(metadatas) != len(texts):
            raise ValueError("add_many needs one metadata dict per text")
        now = time.time()
        ids: list[str] = []
        for start in range(0, len(texts), ADD_BATCH):
            chunk = texts[start : start + ADD_BATCH]
            metas = []
            for i, meta in enumerate(metadatas[start : start + ADD_BATCH]):
                # Distinct, increasing ts keeps list() newest-first order stable inside a batch.
                m = {"kind": "note", "ts": now + (start + i) * 1e-6, **meta}
                metas.append(_clean_meta(m))
            chunk_ids = [uuid.uuid4().hex for _ in chunk]
            vectors = self.embedder.embed(chunk)
            with self._chroma_errors("adding memories"):
                collection.add(ids=chunk_ids, embeddings=vectors, documents=chunk, metadatas=metas)
            ids.extend(chunk_ids)
        return ids

    def delete_run(self, run_id: str) -> int:
        """Forget every memory recorded by one run; returns how many."""
        collection = self._require_writer()
        with self._chroma_errors("deleting memories"):
            found = collection.get(where={"run_id": run_id}, include=[])["ids"]
            if found:
                collection.delete(ids=found)
        return len(found)

    def delete(self, ids: list[str]) -> tuple[list[str], list[str]]:
        """Forget the memories with these ids, each given whole or as a unique prefix (as listings
        show them). Returns (deleted ids, ids given that matched none); an ambiguous prefix is an error."""
        collection = self._require_writer()
        with self._chroma_errors("deleting memories"):
            stored = collection.get(include=[])["ids"]
            found: list[str] = []
            missing: list[str] = []
            for given in ids:
                matches = [i for i in stored if i == given] or [i for i in stored if i.startswith(given)]
                if len(matches) > 1:
                    raise ConfigError(f"memory id {given!r} matches {len(matches)} memories; give more of it")
                (found if matches else missing).append(matches[0] if matches else given)
            found = list(dict.fromkeys(found))
            if found:
                collection.delete(ids=found)
        return found, missing

    def clear(self) -> int:
        """Forget everything (also fixes an embedder mismatch); returns how many memories went."""
        self._require_writer()
        n = self.count()
        with self._chroma_errors("clearing it"):
            self._client.delete_collection(COLLECTION)
            self._collection = self._create_collection()
        return n

    # Reading ----------------------------------------------------------------------------------
    def count(self) -> int:
        if self._collection is None:
            return 0
        with self._chroma_errors("counting memories"):
            return int(self._collection.count())

    def search(self, query: str, top_k: int = 5, *, where: dict[str, Any] | None = None) -> list[MemoryHit]:
        """The `top_k` memories closest in meaning to `query`, best first."""
        n = self.count()
        if n == 0 or top_k < 1 or not query.strip():
            return []
        vector = self.embedder.embed([query])[0]
        with self._chroma_errors("searching"):
            res = self._collection.query(
                query_embeddings=[vector], n_results=min(top_k, n), where=where,
                include=["documents", "metadatas", "distances"],
            )
        return [
            MemoryHit(id=i, text=doc or "", score=1.0 - float(dist), metadata=dict(meta or {}))
            for i, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    def list(self, limit: int | None = None, *, kind: str | None = None) -> list[MemoryHit]:
        """Memories newest first (score 0.0)."""
        if self._collection is None:
            return []
        where = {"kind": kind} if kind else None
        # Chroma returns rows in storage order: sort on ts (metadata only), then fetch the texts shown.
        with self._chroma_errors("listing memories"):
            heads = self._collection.get(where=where, include=["metadatas"])
        order = sorted(
            zip(heads["ids"], heads["metadatas"], strict=True),
            key=lambda im: float((im[1] or {}).get("ts", 0.0)), reverse=True,
        )
        if limit is not None:
            order = order[: max(limit, 0)]
        if not order:
            return []
        with self._chroma_errors("listing memories"):
            docs = self._collection.get(ids=[i for i, _ in order], include=["documents"])
        text_of = dict(zip(docs["ids"], docs["documents"], strict=True))
        return [MemoryHit(id=i, text=text_of.get(i) or "", score=0.0, metadata=dict(m or {})) for i, m in order]

    # Closing ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush Chroma and release the lock. Idempotent."""
        client, self._client, self._collection = self._client, None, None
        try:
            if client is not None:
                client.close()
        finally:
            self._lock.release()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryStore({str(self.path)!r}, writer={self.writer})"
