"""Long-term memory: the offline MiniLM embedder and the Chroma-backed MemoryStore."""

from __future__ import annotations

import hashlib
import math
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from forge.config import Settings
from forge.memory.embeddings import MINILM_DIM, MiniLMEmbedder, get_embedder
from forge.memory.store import MemoryStore, MemoryStoreError

PLANTED = "The Zephyr project's staging database password rotates every 12 days"
PARAPHRASE = "How often does the Zephyr staging DB password change?"


def make_settings(root: Path, agent: str = "tester") -> Settings:
    return Settings(workspace=root / "ws", agent_name=agent, embedding_model="local/minilm", _env_file=None)


def distractors(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    subjects = ["the build", "the API client", "the parser", "the scraper", "the report", "the cache",
                "the login page", "the CSV export", "the unit tests", "the README", "the cron job", "the invoice"]
    verbs = ["failed because of", "now handles", "was rewritten to use", "needs", "timed out on", "ignores"]
    objects = ["a missing header", "unicode input", "pagination", "rate limits", "an empty file",
               "large uploads", "time zones", "retries", "a null pointer", "duplicate rows"]
    prefixes = ["Thought:", "Action result:", "Note:", "Observation:", ""]
    return [
        f"{rnd.choice(prefixes)} {rnd.choice(subjects)} {rnd.choice(verbs)} {rnd.choice(objects)} (item {i})".strip()
        for i in range(n)
    ]


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def run_py(code: str, *, input: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          input=input, env=env, timeout=120, cwd=Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def filled(tmp_path_factory, embedder):
    """One store with 300 distractors, a planted fact and a tagged run, shared by the read-only tests."""
    settings = make_settings(tmp_path_factory.mktemp("filled"))
    store = MemoryStore.open(settings, embedder=embedder)
    texts = distractors(300)
    store.add_many(texts, [{"kind": "thought" if i % 2 else "result", "run_id": "bulk"} for i in range(len(texts))])
    store.add(PLANTED, kind="fact", run_id="r-planted", step=4)
    store.add("Remember to water the office plants on Fridays", kind="note", run_id="r-last", step=1)
    yield store
    store.close()


# --- embedder --------------------------------------------------------------------------------------

def test_minilm_vectors_are_normalised_and_meaningful(embedder):
    a, b, c = embedder.embed([PLANTED, PARAPHRASE, "Bananas are a good source of potassium"])
    assert len(a) == MINILM_DIM == embedder.dim
    for v in (a, b, c):
        assert math.isclose(math.fsum(x * x for x in v), 1.0, abs_tol=1e-4)
    cos = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert cos(a, b) > 0.6
    assert cos(a, b) > cos(a, c) + 0.4


def test_batching_does_not_change_vectors(embedder):
    texts = ["short", "a much longer sentence that pads the batch with many more tokens than the first"] * 20
    batched = embedder.embed(texts)
    alone = embedder.embed([texts[0]])[0]
    assert len(batched) == 40
    assert max(abs(x - y) for x, y in zip(batched[0], alone, strict=True)) < 1e-3
    assert embedder.embed([]) == []


def test_long_text_is_truncated_not_rejected(embedder):
    (v,) = embedder.embed(["word " * 5000])
    assert len(v) == MINILM_DIM


def test_get_embedder_picks_local_or_litellm(settings):
    assert isinstance(get_embedder("local/minilm", settings), MiniLMEmbedder)
    other = get_embedder("text-embedding-3-small", settings)
    assert other.name == "text-embedding-3-small" and other.dim == 1536  # known map, no network call


# --- search and listing --------------------------------------------------------------------------

def test_recall_finds_planted_fact_among_distractors(filled):
    hits = filled.search(PARAPHRASE, top_k=5)
    assert PLANTED in [h.text for h in hits]
    assert hits[0].text == PLANTED
    assert hits[0].metadata["run_id"] == "r-planted" and hits[0].metadata["step"] == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert -1.0 <= hits[-1].score < hits[0].score <= 1.0


def test_search_with_where_and_bounds(filled):
    hits = filled.search(PARAPHRASE, top_k=3, where={"kind": "note"})
    assert [h.text for h in hits] == ["Remember to water the office plants on Fridays"]
    assert len(filled.search("unicode input", top_k=1000)) == filled.count() == 302
    assert filled.search("   ", top_k=5) == []


def test_list_newest_first_with_kind_filter(filled):
    newest = filled.list(2)
    assert [h.text for h in newest] == ["Remember to water the office plants on Fridays", PLANTED]
    facts = filled.list(kind="fact")
    assert [h.text for h in facts] == [PLANTED]
    assert len(filled.list()) == 302
    ts = [h.metadata["ts"] for h in filled.list(50)]
    assert ts == sorted(ts, reverse=True)


def test_add_delete_run_and_clear(tmp_path, embedder):
    with MemoryStore.open(make_settings(tmp_path), embedder=embedder) as store:
        a = store.add("alpha fact", run_id="r1", step=1, tags=["x", "y"], extra=None)
        store.add_many(["beta", "gamma"], [{"run_id": "r1"}, {"run_id": "r2", "kind": "result"}])
        got = {h.id: h for h in store.list()}
        assert got[a].metadata["tags"] == '["x", "y"]' and "extra" not in got[a].metadata
        assert store.delete_run("r1") == 2
        assert [h.text for h in store.list()] == ["gamma"]
        assert store.clear() == 1
        assert store.count() == 0 and store.search("gamma") == []
        store.add("after clear")
        assert store.count() == 1


# --- persistence -----------------------------------------------------------------------------------

WRITER = """
import os, sys
from forge.config import Settings
from forge.memory.store import MemoryStore
s = Settings(workspace={ws!r}, agent_name="persist", _env_file=None)
store = MemoryStore.open(s)
store.add({text!r}, kind="fact", run_id="r9", step=2)
if {crash!r}:
    os._exit(0)  # killed mid-run: no close()
store.close()
"""

READER = """
from forge.config import Settings
from forge.memory.store import MemoryStore
s = Settings(workspace={ws!r}, agent_name="persist", _env_file=None)
with MemoryStore.open(s, writer=False) as store:
    hit = store.search({query!r}, top_k=1)[0]
    print(store.count(), hit.metadata["run_id"], hit.text)
"""


@pytest.mark.parametrize("crash", [False, True], ids=["closed", "killed"])
def test_memory_survives_process_restart(tmp_path, crash):
    ws = str(tmp_path / "ws")
    w = run_py(WRITER.format(ws=ws, text="Invoices are archived in /srv/archive/invoices", crash=crash))
    assert w.returncode == 0, w.stderr
    r = run_py(READER.format(ws=ws, query="where are old invoices stored?"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1 r9 Invoices are archived in /srv/archive/invoices"


# --- damage and mismatch ---------------------------------------------------------------------------

@pytest.fixture
def small_store(tmp_path, embedder) -> Settings:
    settings = make_settings(tmp_path)
    with MemoryStore.open(settings, embedder=embedder) as store:
        store.add_many(distractors(20), [{} for _ in range(20)])
    return settings


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_store_gives_clear_error_and_leaves_files_untouched(small_store, embedder, damage):
    folder = small_store.memory_dir()
    db = folder / "chroma.sqlite3"
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        db.write_bytes(db.read_bytes()[:3000])  # valid header, pages missing
    before = checksums(folder)
    for writer in (True, False):
        with pytest.raises(MemoryStoreError) as err:
            MemoryStore.open(small_store, embedder=embedder, writer=writer, agent_option="--agent")
        msg = str(err.value)
        assert f"memory store {folder} is damaged (" in msg and f"mv {folder} {folder}.damaged" in msg
        assert "--agent tester-2" in msg and "\n" not in msg
    assert checksums(folder) == before


class FakeEmbedder:
    name = "fake/other-model"
    dim = 8

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 7 for _ in texts]


def test_embedder_mismatch_is_refused_then_fixed_by_clear(small_store, embedder):
    folder = small_store.memory_dir()
    before = checksums(folder)
    for writer in (True, False):
        with pytest.raises(MemoryStoreError) as err:
            MemoryStore.open(small_store, embedder=FakeEmbedder(), writer=writer)
        msg = str(err.value)
        assert "local/minilm" in msg and "fake/other-model" in msg and "(dim 384)" in msg
        assert "autogpt memory clear --agent tester --yes" in msg and str(folder) in msg
    assert checksums(folder) == before
    # clear is the documented fix: it re-records the space for the new embedder.
    with MemoryStore.open(small_store, embedder=FakeEmbedder(), allow_mismatch=True) as store:
        assert store.clear() == 20
        store.add("now in the fake space")
    with MemoryStore.open(small_store, embedder=FakeEmbedder(), writer=False) as store:
        assert [h.text for h in store.search("anything")] == ["now in the fake space"]
    with pytest.raises(MemoryStoreError, match="holds fake/other-model vectors"):
        MemoryStore.open(small_store, embedder=embedder)


# --- locking ---------------------------------------------------------------------------------------

HOLDER = """
import sys
from forge.config import Settings
from forge.memory.store import MemoryStore
s = Settings(workspace={ws!r}, agent_name="tester", _env_file=None)
store = MemoryStore.open(s, writer={writer!r})
print("ready", flush=True)
sys.stdin.readline()
store.close()
"""


def _hold(tmp_path: Path, writer: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(ws=str(tmp_path / "ws"), writer=writer)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
    return proc


def _release(proc: subprocess.Popen) -> None:
    proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


def test_second_writer_and_readers_refused_while_a_writer_runs(small_store, tmp_path, embedder):
    proc = _hold(tmp_path, writer=True)
    try:
        with pytest.raises(MemoryStoreError, match=rf"in use by pid {proc.pid}\b"):
            MemoryStore.open(small_store, embedder=embedder)
        with pytest.raises(MemoryStoreError, match=rf"running agent \(pid {proc.pid}\)"):
            MemoryStore.open(small_store, embedder=embedder, writer=False)
    finally:
        _release(proc)
    with MemoryStore.open(small_store, embedder=embedder) as store:  # free again once the holder exits
        assert store.count() == 20


def test_readers_share_but_block_a_writer(small_store, tmp_path, embedder):
    proc = _hold(tmp_path, writer=False)
    try:
        with MemoryStore.open(small_store, embedder=embedder, writer=False) as store:
            assert store.count() == 20
        with pytest.raises(MemoryStoreError, match="in use by"):
            MemoryStore.open(small_store, embedder=embedder)
    finally:
        _release(proc)


def test_same_process_second_writer_is_refused(small_store, embedder):
    with MemoryStore.open(small_store, embedder=embedder) as store:
        with pytest.raises(MemoryStoreError, match=rf"pid {os.getpid()}"):
            MemoryStore.open(small_store, embedder=embedder)
        store.add("still writable")
        assert store.count() == 21


def test_reader_on_missing_store_is_empty_and_creates_nothing(tmp_path, embedder):
    settings = make_settings(tmp_path, agent="nobody")
    with MemoryStore.open(settings, embedder=embedder, writer=False) as store:
        assert store.count() == 0 and store.search("x") == [] and store.list() == []
        with pytest.raises(MemoryStoreError, match="read-only"):
            store.add("nope")
    assert not settings.memory_dir().exists()
