"""A damaged memory store: one line naming the folder and the fix, exit 2, files byte-for-byte as they were.

Every kind of damage is checked through the library (writer and reader) and through the real CLI
(`autogpt memory list|search|add|clear` and `autogpt run`), hashing the folder before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from forge.config import Settings
from forge.memory import preflight
from forge.memory import store as store_mod
from forge.memory.embeddings import MiniLMEmbedder
from forge.memory.store import MemoryStore, MemoryStoreError
from forge.models.scripted import decision

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
AGENT = "tester"
PLANTED = "The Zephyr project's staging database password rotates every 12 days"


def make_settings(root: Path) -> Settings:
    return Settings(workspace=root / "ws", agent_name=AGENT, embedding_model="local/minilm", _env_file=None)


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder`: a file's sha256 and mode, or "dir"."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mode:o}"
    return out


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, embedder) -> Path:
    """A MiniLM store whose HNSW index is on disk (Chroma flushes it every 10 adds here, not 1000)."""
    root = tmp_path_factory.mktemp("pristine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(store_mod.HNSW, "sync_threshold", 10)
        mp.setitem(store_mod.HNSW, "batch_size", 10)
        with MemoryStore.open(make_settings(root), embedder=embedder) as store:
            store.add_many([f"Note {i}: the build failed on step {i}" for i in range(60)])
            store.add(PLANTED, kind="fact")
    segment = next(p for p in make_settings(root).memory_dir().iterdir() if p.is_dir())
    assert (segment / "index_metadata.pickle").exists() and (segment / "link_lists.bin").stat().st_size > 0
    return root


@pytest.fixture
def store_copy(pristine, tmp_path) -> Settings:
    shutil.copytree(pristine / "ws", tmp_path / "ws")
    return make_settings(tmp_path)


def _segment(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.is_dir())


def _garble(path: Path, offset: int, size: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(os.urandom(size))


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def sqlite_pages(folder: Path) -> None:
    db = folder / "chroma.sqlite3"
    pages = db.stat().st_size // 4096
    _garble(db, (pages // 2) * 4096, 3 * 4096)
    assert preflight.quick_check(folder)  # the damage is real: SQLite itself sees it


def sqlite_zero_bytes(folder: Path) -> None:
    _truncate(folder / "chroma.sqlite3", 0)


def sqlite_is_a_directory(folder: Path) -> None:
    (folder / "chroma.sqlite3").unlink()
    (folder / "chroma.sqlite3").mkdir()


def level0_garbled(folder: Path) -> None:
    f = _segment(folder) / "data_level0.bin"
    _garble(f, f.stat().st_size // 4, 8192)


def level0_truncated(folder: Path) -> None:
    _truncate(_segment(folder) / "data_level0.bin", 20_000)


def header_garbled(folder: Path) -> None:
    _garble(_segment(folder) / "header.bin", 4, 96)


def header_truncated(folder: Path) -> None:
    _truncate(_segment(folder) / "header.bin", 40)


def header_is_a_directory(folder: Path) -> None:
    header = _segment(folder) / "header.bin"
    header.unlink()
    header.mkdir()


def link_lists_garbled(folder: Path) -> None:
    f = _segment(folder) / "link_lists.bin"
    _garble(f, 0, f.stat().st_size)


def link_lists_truncated(folder: Path) -> None:
    f = _segment(folder) / "link_lists.bin"
    _truncate(f, f.stat().st_size // 2)


def id_map_garbled(folder: Path) -> None:
    f = _segment(folder) / "index_metadata.pickle"
    _garble(f, 10, 200)


def id_map_truncated(folder: Path) -> None:
    f = _segment(folder) / "index_metadata.pickle"
    _truncate(f, f.stat().st_size // 2)


DAMAGE: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (sqlite_pages, sqlite_zero_bytes, sqlite_is_a_directory, level0_garbled, level0_truncated,
              header_garbled, header_truncated, header_is_a_directory, link_lists_garbled, link_lists_truncated,
              id_map_garbled, id_map_truncated)
}


def assert_one_line_damage(msg: str, folder: Path, option: str | None) -> None:
    assert "\n" not in msg.strip() and "Traceback" not in msg
    assert f"memory store {folder} is damaged (" in msg
    assert f"mv {folder} {folder}.damaged" in msg  # keeps the data; never deletes
    if option:
        assert f"{option} {AGENT}-2" in msg
        assert ("--ai-name" if option == "--agent" else "--agent ") not in msg


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_library_reports_damage_and_touches_nothing(store_copy, embedder, damage):
    folder = store_copy.memory_dir()
    DAMAGE[damage](folder)
    before = snapshot(folder)
    for writer in (True, False):
        with pytest.raises(MemoryStoreError) as err:
            MemoryStore.open(store_copy, embedder=embedder, writer=writer)
        assert_one_line_damage(str(err.value), folder, None)
    assert snapshot(folder) == before


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    return subprocess.run([AUTOGPT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def _commands(settings: Settings, tmp_path: Path) -> list[tuple[list[str], str]]:
    ws = str(settings.workspace)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([decision("finish", "done", reason="ok")]))
    common = ["--workspace", ws, "--agent", AGENT]
    return [
        (["memory", "list", *common], "--agent"),
        (["memory", "search", "staging password", *common], "--agent"),
        (["memory", "add", "one more fact", *common], "--agent"),
        (["memory", "clear", "--yes", *common], "--agent"),
        (["run", "say hi", "-c", "--workspace", ws, "--ai-name", AGENT, "--model", f"scripted/{script}"], "--ai-name"),
    ]


@pytest.mark.parametrize("damage", ["sqlite_pages", "sqlite_zero_bytes", "id_map_truncated"])
def test_every_command_gives_one_line_and_exit_2(store_copy, tmp_path, damage):
    folder = store_copy.memory_dir()
    DAMAGE[damage](folder)
    before = snapshot(folder)
    for args, option in _commands(store_copy, tmp_path):
        r = _cli(args, tmp_path)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("error: memory store "), r.stderr
        assert_one_line_damage(r.stderr, folder, option)
        assert snapshot(folder) == before, args


def test_zero_byte_database_is_not_reinitialised(store_copy, embedder):
    """Chroma would start a new empty database and orphan the vectors: refused instead."""
    folder = store_copy.memory_dir()
    sqlite_zero_bytes(folder)
    with pytest.raises(MemoryStoreError, match=r"chroma.sqlite3 is empty \(0 bytes\) beside vector data"):
        MemoryStore.open(store_copy, embedder=embedder)
    assert (folder / "chroma.sqlite3").stat().st_size == 0


def test_a_zero_byte_database_alone_is_a_new_store(tmp_path, embedder):
    """A first open killed before Chroma wrote anything: nothing to lose, so it starts afresh."""
    settings = make_settings(tmp_path)
    folder = settings.memory_dir()
    folder.mkdir(parents=True)
    (folder / "chroma.sqlite3").touch()
    with MemoryStore.open(settings, embedder=embedder, writer=False) as store:
        assert store.count() == 0
    with MemoryStore.open(settings, embedder=embedder) as store:
        store.add("first")
        assert store.count() == 1


def test_lock_file_that_is_a_directory(store_copy, embedder):
    folder = store_copy.memory_dir()
    (folder / "writer.lock").unlink()
    (folder / "writer.lock").mkdir()
    for writer in (True, False):
        with pytest.raises(MemoryStoreError, match=r"is damaged \(writer.lock: Is a directory\)"):
            MemoryStore.open(store_copy, embedder=embedder, writer=writer, agent_option="--agent")


def _without_root_powers(args: list[str]) -> list[str]:
    """Root ignores file modes; dropping the two DAC capabilities makes the kernel enforce them.
    (A second user cannot run this interpreter: it lives under /root, mode 700.)"""
    if os.geteuid() != 0:
        return args
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv (util-linux) to drop root's permission override")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *args]


@pytest.mark.parametrize("target", ["chroma.sqlite3", "folder"])
def test_unreadable_store_says_so_without_suggesting_to_move_it(store_copy, tmp_path, target):
    folder = store_copy.memory_dir()
    path = folder / "chroma.sqlite3" if target == "chroma.sqlite3" else folder
    path.chmod(0)
    try:
        before_mode = path.stat().st_mode
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
        for args, option in _commands(store_copy, tmp_path):
            r = subprocess.run(_without_root_powers([AUTOGPT, *args]), capture_output=True, text=True, env=env,
                               cwd=tmp_path, timeout=180)
            assert r.returncode == 2, (args, r.stderr)
            assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
            assert f"memory store {folder} is not accessible (" in r.stderr and "Permission denied" in r.stderr
            assert "give this user read and write access" in r.stderr and f"{option} {AGENT}-2" in r.stderr
            assert "mv " not in r.stderr
        assert path.stat().st_mode == before_mode
    finally:
        path.chmod(0o755 if target == "folder" else 0o644)
    with MemoryStore.open(store_copy, writer=False) as store:  # nothing was harmed
        assert store.count() == 61


class _FailingCollection:
    """Stands in for Chroma's collection after its files went bad under a running store."""

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            from chromadb.errors import InternalError

            raise InternalError("Error executing plan: Error reading from metadata segment reader")

        return fail


def test_chroma_errors_after_open_become_memory_store_errors(store_copy, embedder):
    folder = store_copy.memory_dir()
    with MemoryStore.open(store_copy, embedder=embedder) as store:
        store._collection = _FailingCollection()
        for call in (store.count, lambda: store.search("staging"), store.list, lambda: store.add("x"),
                     lambda: store.delete_run("r1")):
            with pytest.raises(MemoryStoreError) as err:
                call()
            msg = str(err.value)
            assert f"memory store {folder} is damaged (InternalError while " in msg and "\n" not in msg
        sqlite_pages(folder)  # now the database itself is bad: the message says what SQLite found
        with pytest.raises(MemoryStoreError, match=r"is damaged \(chroma.sqlite3: .*(malformed|Page|page)"):
            store.list()
