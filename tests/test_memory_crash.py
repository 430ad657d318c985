"""A writer killed mid-write never disables the store: what it committed is there at the next open.

What SIGKILL can leave half-done: an SQLite transaction (a hot rollback journal) and Chroma's HNSW
index files (rewritten in place every `sync_threshold` adds). Both are recovered under the lock,
without deleting anything; the kill loop at the end does it for real.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from forge.config import Settings
from forge.memory import store as store_mod
from forge.memory.embeddings import MiniLMEmbedder
from forge.memory.store import MemoryStore, MemoryStoreError

ROOT = Path(__file__).resolve().parents[1]
AUTOGPT = str(Path(sys.executable).parent / "autogpt")
AGENT = "tester"


def make_settings(root: Path) -> Settings:
    return Settings(workspace=root / "ws", agent_name=AGENT, embedding_model="local/minilm", _env_file=None)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def _segment(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.is_dir() and ".torn-" not in p.name)


@pytest.fixture(scope="module")
def two_flushes(tmp_path_factory, embedder) -> tuple[Path, bytes]:
    """A store whose index was flushed twice (every 10 adds here), and the id map of the first flush."""
    root = tmp_path_factory.mktemp("flushed")
    settings = make_settings(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(store_mod.HNSW, "sync_threshold", 10)
        mp.setitem(store_mod.HNSW, "batch_size", 10)
        with MemoryStore.open(settings, embedder=embedder) as store:
            store.add_many([f"Early note {i}: the parser needs unicode input" for i in range(12)])
            first_map = (_segment(settings.memory_dir()) / "index_metadata.pickle").read_bytes()
            store.add_many([f"Later note {i}: the cron job timed out on retries" for i in range(12)])
            store.add("The Falcon backup server is at rack 42", kind="fact")
    return root, first_map


@pytest.fixture
def flushed(two_flushes, tmp_path) -> tuple[Settings, bytes]:
    root, first_map = two_flushes
    shutil.copytree(root / "ws", tmp_path / "ws")
    return make_settings(tmp_path), first_map


def _kill_marker(folder: Path, pid: int = 4_000_000) -> None:
    """What a SIGKILLed writer leaves in the lock file: its pid (a clean close empties it)."""
    (folder / "writer.lock").write_text(f"{pid}\n")


def _tear(folder: Path, first_map: bytes, how: str) -> None:
    """Leave the index as a kill during Chroma's second flush would."""
    id_map = _segment(folder) / "index_metadata.pickle"
    if how == "before_id_map":  # index files rewritten, id map still the first flush's
        id_map.write_bytes(first_map)
    else:  # killed while writing the id map (Chroma truncates it, then writes)
        id_map.write_bytes(id_map.read_bytes()[:100])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("how", ["before_id_map", "in_id_map"])
@pytest.mark.parametrize("writer", [True, False], ids=["writer", "reader"])
def test_torn_index_after_a_kill_is_rebuilt_from_the_log(flushed, embedder, how, writer, caplog):
    settings, first_map = flushed
    folder = settings.memory_dir()
    _tear(folder, first_map, how)
    torn = _files(_segment(folder))
    _kill_marker(folder)
    with MemoryStore.open(settings, embedder=embedder, writer=writer) as store:
        assert store.count() == 25
        hits = store.search("where is the Falcon backup server?", top_k=1)
        assert hits and hits[0].text == "The Falcon backup server is at rack 42"
        assert len(store.list()) == 25
    assert "rebuilt from the log" in caplog.text
    kept = [p for p in folder.iterdir() if ".torn-" in p.name]
    assert len(kept) == 1 and _files(kept[0]) == torn  # moved aside, byte for byte, never deleted
    assert (folder / "writer.lock").read_text() == ""  # handled: the next open is a normal one
    with MemoryStore.open(settings, embedder=embedder) as store:  # and the rebuilt index persists
        store.add("One more after recovery")
        assert store.count() == 26


def test_same_tear_without_a_kill_is_damage_and_left_alone(flushed, embedder):
    """No dead writer recorded: the files were damaged some other way, so they are reported, not rebuilt."""
    settings, first_map = flushed
    folder = settings.memory_dir()
    _tear(folder, first_map, "before_id_map")
    before = _files(folder)
    with pytest.raises(MemoryStoreError, match="is damaged .*the index files and the id map disagree"):
        MemoryStore.open(settings, embedder=embedder)
    assert _files(folder) == before


def test_torn_index_of_a_store_whose_log_was_purged_is_reported(flushed, embedder):
    """Stores made before the log was kept cannot be rebuilt: say so, touch nothing."""
    settings, first_map = flushed
    folder = settings.memory_dir()
    with sqlite3.connect(folder / "chroma.sqlite3") as conn:
        conn.execute("DELETE FROM embeddings_queue WHERE seq_id <= 10")  # what Chroma's purge did
    _tear(folder, first_map, "before_id_map")
    _kill_marker(folder)
    before = _files(folder)
    with pytest.raises(MemoryStoreError, match="left half-written by a killed process .* cannot be rebuilt"):
        MemoryStore.open(settings, embedder=embedder)
    assert _files(folder) == before


def test_a_reader_does_not_rebuild_while_other_readers_are_in(flushed, embedder, tmp_path):
    settings, first_map = flushed
    folder = settings.memory_dir()
    with MemoryStore.open(settings, embedder=embedder, writer=False):
        _tear(folder, first_map, "before_id_map")
        _kill_marker(folder)
        with pytest.raises(MemoryStoreError, match="is busy .*must be rebuilt after a crash and another process"):
            MemoryStore.open(settings, embedder=embedder, writer=False)
    with MemoryStore.open(settings, embedder=embedder, writer=False) as store:  # alone now: it repairs
        assert store.count() == 25


HOT_JOURNAL = """
import os, signal, sqlite3
conn = sqlite3.connect({db!r}, isolation_level=None)
conn.execute("PRAGMA cache_size = 10")  # spill the changed pages into the database before commit
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE embedding_metadata SET string_value = string_value || ' (half-written) ' || hex(randomblob(2000))")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_hot_journal_is_rolled_back_by_every_command(flushed, embedder, tmp_path):
    settings, _ = flushed
    folder = settings.memory_dir()
    db = folder / "chroma.sqlite3"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(HOT_JOURNAL.format(db=str(db)))], timeout=60)
    assert proc.returncode == -9
    assert (folder / "chroma.sqlite3-journal").stat().st_size > 0
    with pytest.raises(sqlite3.OperationalError):  # what the old read-only check died on
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM embeddings").fetchone()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    r = subprocess.run([AUTOGPT, "memory", "list", "--json", "--limit", "100", "--workspace", str(settings.workspace),
                        "--agent", AGENT], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert r.returncode == 0, r.stderr
    texts = [m["text"] for m in json.loads(r.stdout)]
    assert len(texts) == 25 and not any("half-written" in t for t in texts)
    assert not (folder / "chroma.sqlite3-journal").exists()


def test_kill_loop(tmp_path):
    """Five real SIGKILLs during adds (the 50-kill run is benchmark/perf/bench_memory_kill.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    r = subprocess.run([sys.executable, "benchmark/perf/bench_memory_kill.py", "--kills", "5", "--sync-threshold",
                        "20", "--max-wait", "0.5", "--json", "--workspace", str(tmp_path / "ws")],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["kills"] == 5 and summary["memories"] > 0, summary
    assert summary["disabled"] == 0 and summary["lost_committed_writes"] == 0, summary
