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
(DESIGN.md section 3). So every open takes an `fcntl.flock` on `<memory_dir>/writer.lock`: writers
exclusive, readers (`writer=False`, e.g. `autogpt memory search`) shared. A reader is refused while
an agent is running on the store, with the agent's pid, rather than shown stale results; any
number of readers may open together.

Damage is reported, never repaired: a store that is not a readable Chroma database, or was built
by another embedder, raises MemoryStoreError naming the folder and the fix, and the checks before
Chroma opens it only read (SQLite read-only mode), so the files stay byte-for-byte as they were.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge.errors import ConfigError
from forge.memory.embeddings import Embedder, LiteLLMEmbedder, get_embedder
from forge.security.permissions import private_dir

if TYPE_CHECKING:
    from forge.config import Settings

COLLECTION = "memories"
LOCK_FILE = "writer.lock"
SQLITE_FILE = "chroma.sqlite3"
ADD_BATCH = 256  # texts embedded and written per Chroma call in add_many (one SQLite transaction)
# HNSW search breadth: 100 gives recall@5 ~= brute force at 10k memories for ~1 ms a query.
HNSW = {"space": "cosine", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16}


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


class _StoreLock:
    """flock on the lock file: exclusive for the writer (which writes its pid there), shared for readers."""

    def __init__(self, folder: Path, exclusive: bool):
        self.path = folder / LOCK_FILE
        self.exclusive = exclusive
        self.fd: int | None = None

    def acquire(self, agent_hint: str) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            folder = self.path.parent
            if self.exclusive:
                raise MemoryStoreError(
                    f"memory store {folder} is in use by {holder}; Chroma allows one process per store: "
                    f"wait for it to finish, stop it, or use {agent_hint}"
                ) from None
            raise MemoryStoreError(
                f"memory store {folder} is in use by a running agent ({holder}); Chroma does not share a store "
                "between processes, so read it when that run ends"
            ) from None
        if self.exclusive:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
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
        if self.exclusive:
            os.ftruncate(self.fd, 0)  # no stale pid for the next error message
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def _recorded_embedder(folder: Path) -> dict[str, Any] | None:
    """Read-only pre-flight check of an existing store (no Chroma, no writes).

    Returns the collection's recorded {"embedder", "dim"} ({} when the store has no collection
    yet, None when there is no store). Raises MemoryStoreError when the file is not SQLite.
    """
    db = folder / SQLITE_FILE
    if not db.exists():
        return None
    fix = f"move the folder aside (mv {folder} {folder}.broken) or use --agent other"
    try:
        with open(db, "rb") as f:
            header = f.read(16)
        if header and header != b"SQLite format 3\x00":
            raise sqlite3.DatabaseError("file is not a database")
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT m.key, m.str_value, m.int_value FROM collections c "
                "JOIN collection_metadata m ON m.collection_id = c.id WHERE c.name = ?",
                (COLLECTION,),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return {}  # a Chroma schema this check does not know: Chroma itself validates
        raise MemoryStoreError(f"memory store {folder} is unreadable ({e}); {fix}") from None
    except (sqlite3.DatabaseError, OSError) as e:
        raise MemoryStoreError(f"memory store {folder} is damaged ({e}); {fix}") from None
    return {key: s if s is not None else i for key, s, i in rows}


class MemoryStore:
    """One agent's memories. Open with `MemoryStore.open(settings)`; close() releases the lock."""

    def __init__(self, folder: Path, embedder: Embedder, lock: _StoreLock, agent_hint: str):
        self.path = folder
        self.embedder = embedder
        self.writer = lock.exclusive
        self._lock = lock
        self._agent_hint = agent_hint
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
    ) -> MemoryStore:
        """Open (a writer creates) the store of `settings.agent_name`.

        `allow_mismatch=True` skips the embedder check; only `clear()` is safe on such a store.
        """
        folder = Path(settings.memory_dir())
        embedder = embedder or get_embedder(settings.embedding_model, settings)
        hint = f"another agent name (--agent {settings.agent_name}-2)"
        recorded = _recorded_embedder(folder)  # before anything touches the folder
        if recorded and not allow_mismatch:
            cls._check_embedder(folder, recorded, embedder)
        if not writer and recorded is None:
            return cls(folder, embedder, _StoreLock(folder, exclusive=False), hint)  # nothing stored yet
        private_dir(folder, root=settings.workspace)
        lock = _StoreLock(folder, exclusive=writer)
        lock.acquire(hint)
        store = cls(folder, embedder, lock, hint)
        try:
            store._connect(create=writer)
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _check_embedder(folder: Path, recorded: dict[str, Any], embedder: Embedder) -> None:
        name, dim = recorded.get("embedder"), recorded.get("dim")
        if name is None:
            return
        new_dim = _static_dim(embedder)
        if name != embedder.name or (dim is not None and new_dim is not None and int(dim) != new_dim):
            raise MemoryStoreError(
                f"memory store {folder} holds {name} vectors (dim {dim}) but embedding_model is "
                f"{embedder.name} (dim {new_dim or '?'}); set AUTOGPT_EMBEDDING_MODEL={name}, use --agent other, "
                "or empty it with `autogpt memory clear --yes`"
            )

    def _connect(self, *, create: bool) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            # Telemetry off: nothing may connect out (and the tests' socket guard would refuse it).
            self._client = chromadb.PersistentClient(
                path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )
            # get, then create only if missing: get_or_create could rewrite the recorded metadata.
            names = {getattr(c, "name", c) for c in self._client.list_collections()}
            if COLLECTION in names:
                self._collection = self._client.get_collection(COLLECTION, embedding_function=None)
            elif create:
                self._collection = self._create_collection()
        except MemoryStoreError:
            raise
        except Exception as e:
            raise MemoryStoreError(
                f"memory store {self.path} could not be opened ({type(e).__name__}: {str(e)[:200]}); "
                f"move the folder aside or use --agent other"
            ) from None

    def _create_collection(self) -> Any:
        # The embedder's name and dim are checked on every later open (see _check_embedder).
        metadata = {"embedder": self.embedder.name, "dim": self.embedder.dim, "created": time.time()}
        return self._client.create_collection(
            COLLECTION, configuration={"hnsw": dict(HNSW)},  # type: ignore[arg-type]
            metadata=metadata, embedding_function=None,
        )

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
            try:
                collection.add(ids=chunk_ids, embeddings=vectors, documents=chunk, metadatas=metas)
            except Exception as e:
                raise MemoryStoreError(f"could not write to memory store {self.path}: {e}") from None
            ids.extend(chunk_ids)
        return ids

    def delete_run(self, run_id: str) -> int:
        """Forget every memory recorded by one run; returns how many."""
        collection = self._require_writer()
        found = collection.get(where={"run_id": run_id}, include=[])["ids"]
        if found:
            collection.delete(ids=found)
        return len(found)

    def clear(self) -> int:
        """Forget everything (also fixes an embedder mismatch); returns how many memories went."""
        self._require_writer()
        n = self.count()
        self._client.delete_collection(COLLECTION)
        self._collection = self._create_collection()
        return n

    # Reading ----------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._collection.count()) if self._collection is not None else 0

    def search(self, query: str, top_k: int = 5, *, where: dict[str, Any] | None = None) -> list[MemoryHit]:
        """The `top_k` memories closest in meaning to `query`, best first."""
        n = self.count()
        if n == 0 or top_k < 1 or not query.strip():
            return []
        vector = self.embedder.embed([query])[0]
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
        heads = self._collection.get(where=where, include=["metadatas"])
        order = sorted(
            zip(heads["ids"], heads["metadatas"], strict=True),
            key=lambda im: float((im[1] or {}).get("ts", 0.0)), reverse=True,
        )
        if limit is not None:
            order = order[: max(limit, 0)]
        if not order:
            return []
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
