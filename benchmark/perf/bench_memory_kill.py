"""Kill loop: SIGKILL a process while it writes memories, then check the store still opens (prints figures).

    .venv/bin/python benchmark/perf/bench_memory_kill.py [--kills 50] [--sync-threshold 1000] [--json]

Each round starts a writer process that adds memories in batches of 1-64 (the agent adds one per
step, `add_many` up to 256) to one store, waits a random time, then kills it with SIGKILL while an
add is in flight. A fresh process then opens the store as the writer and as a reader and checks:
it opens, every add the killed process saw complete is there, the count is at most that plus the
batch in flight, and a search finds the last completed memory. Vectors come from a hash of the
text (exact-match searches, no model to load) so the time goes to Chroma's writes, where a kill
can tear something. `--sync-threshold N` makes Chroma rewrite its index files every N adds instead
of 1000 (more kills land inside that rewrite).
Prints: kills, stores disabled, lost committed writes, journals rolled back, indexes rebuilt, recovery time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
AGENT = "killed"


class HashEmbedder:
    """Deterministic unit vectors from a text's hash: the same text always finds itself first."""

    name = "bench/hash-384"
    dim = 384

    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        out = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim)
            out.append((v / np.linalg.norm(v)).tolist())
        return out


def _settings(ws: str) -> Any:
    from forge.config import Settings

    return Settings(workspace=ws, agent_name=AGENT, _env_file=None)  # type: ignore[call-arg]


def worker(ws: str, sync_threshold: int | None) -> None:
    """Add memories forever; print `begin N` before each add and `ok ID...` after it returns."""
    from forge.memory import store as store_mod

    if sync_threshold:
        store_mod.HNSW["sync_threshold"] = sync_threshold  # only used when the collection is created
        store_mod.HNSW["batch_size"] = min(sync_threshold, 100)
    store = store_mod.MemoryStore.open(_settings(ws), embedder=HashEmbedder())
    rnd = random.Random()
    n = store.count()
    print("ready", n, flush=True)
    while True:
        size = rnd.choice([1, 1, 1, 2, 5, 16, 64])
        texts = [f"Step memory {n + i} from pid {os.getpid()}: {rnd.random()}" for i in range(size)]
        print("begin", size, flush=True)
        ids = store.add_many(texts, [{"kind": "step", "step": n + i} for i in range(size)])
        n += size
        print("ok", json.dumps(list(zip(ids, texts, strict=True))), flush=True)


def check(ws: str, committed_file: str, landed: int, inflight: int) -> None:
    """Open as writer then reader; print one JSON line with what was found.

    `landed`: memories from earlier in-flight adds that were committed though never acknowledged.
    """
    from forge.memory.store import MemoryStore, MemoryStoreError

    committed: list[list[str]] = json.loads(Path(committed_file).read_text())
    ids = {i for i, _ in committed}
    out: dict[str, Any] = {"ok": False}
    import chromadb  # noqa: F401  (imported before the clock starts: recovery time, not import time)

    try:
        for writer in (True, False):
            t0 = time.perf_counter()
            with MemoryStore.open(_settings(ws), embedder=HashEmbedder(), writer=writer) as store:
                count = store.count()  # Chroma replays its log (and rebuilds a moved index) here
                dt = time.perf_counter() - t0
                found = {h.id for h in store.list()}
                last_ok = True
                if committed:
                    last_id, last_text = committed[-1]
                    hits = store.search(last_text, top_k=1)
                    last_ok = bool(hits) and hits[0].id == last_id
            key = "writer" if writer else "reader"
            out[key] = {"open_s": round(dt, 3), "count": count, "lost": len(ids - found), "search_ok": last_ok}
        w, r = out["writer"], out["reader"]
        out["ok"] = (w["lost"] == 0 and r["lost"] == 0 and w["search_ok"] and r["search_ok"]
                     and len(ids) + landed <= w["count"] <= len(ids) + landed + inflight
                     and r["count"] == w["count"])
    except MemoryStoreError as e:
        out["error"] = str(e)
    print(json.dumps(out), flush=True)


def _run_round(ws: str, committed: list[list[str]], landed: int, rnd: random.Random, max_wait: float,
               sync_threshold: int | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    cmd = [sys.executable, __file__, "--worker", ws]
    if sync_threshold:
        cmd += ["--sync-threshold", str(sync_threshold)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    ready = proc.stdout.readline()
    if not ready.startswith("ready"):
        proc.kill()
        return {"disabled": True, "error": "writer did not start: " + proc.stderr.read()[-300:]}
    lines: list[str] = []
    begun = threading.Event()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("begin"):
                begun.set()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    time.sleep(rnd.uniform(0.0, max_wait))
    begun.clear()
    begun.wait(5)  # then kill inside the next add, a random moment after it starts
    time.sleep(rnd.uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t.join(5)
    inflight = 0
    for line in lines:
        if not line.endswith("\n"):
            continue  # cut off by the kill
        if line.startswith("begin"):
            inflight = int(line.split()[1])
        elif line.startswith("ok "):
            committed.extend(json.loads(line[3:]))
            inflight = 0
    memory = Path(ws) / "agents" / AGENT / "memory"
    journal = any((memory / f"chroma.sqlite3{s}").exists() for s in ("-journal", "-wal"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(committed, f)
    try:
        c = subprocess.run([sys.executable, __file__, "--check", ws, f.name, str(landed), str(inflight)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    finally:
        os.unlink(f.name)
    try:
        result = json.loads(c.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = {"ok": False, "error": f"checker exit {c.returncode}: {c.stderr.strip()[-300:]}"}
    result["journal"] = journal
    result["rebuilt"] = "torn" in c.stderr
    result["disabled"] = not result["ok"]
    result["committed"] = len(committed)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--max-wait", type=float, default=1.5, help="longest wait before a kill (seconds)")
    ap.add_argument("--sync-threshold", type=int, default=None, help="Chroma index flush interval (default 1000)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workspace", default=None, help="keep the store here (default: a temporary folder)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--check", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.sync_threshold)
    if args.check:
        return check(args.check[0], args.check[1], int(args.check[2]), int(args.check[3]))

    rnd = random.Random(args.seed)
    committed: list[list[str]] = []
    landed = 0  # in-flight adds that were committed before the kill (never acknowledged)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-kill-") as tmp:
        ws = args.workspace or tmp
        for k in range(args.kills):
            r = _run_round(ws, committed, landed, rnd, args.max_wait, args.sync_threshold)
            results.append(r)
            if "writer" in r:
                landed = r["writer"]["count"] - len(committed)
            if not args.json:
                w = r.get("writer", {})
                print(f"kill {k + 1:>3}: committed {r['committed']:>6}, count {w.get('count', '-')!s:>6}, "
                      f"open+first count {w.get('open_s', '-')} s, journal {'yes' if r['journal'] else 'no '}, "
                      f"rebuilt {'yes' if r['rebuilt'] else 'no '}" + (f"  FAILED: {r.get('error') or json.dumps(r)}"
                                                                         if r["disabled"] else ""), flush=True)
            if r["disabled"] and not r.get("writer"):
                break  # nothing more to learn from a store that no longer opens
    recov = [r["writer"]["open_s"] for r in results if "writer" in r]
    summary = {
        "kills": len(results),
        "disabled": sum(r["disabled"] for r in results),
        "lost_committed_writes": sum(r.get("writer", {}).get("lost", 0) for r in results),
        "journals_rolled_back": sum(r["journal"] for r in results),
        "indexes_rebuilt": sum(r["rebuilt"] for r in results),
        "memories": len(committed),
        "recovery_s_median": round(statistics.median(recov), 2) if recov else None,
        "recovery_s_max": round(max(recov), 2) if recov else None,
        "errors": [r["error"] for r in results if r.get("error")],  # why a round's store was disabled
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"kills {summary['kills']}, stores disabled {summary['disabled']}, lost committed writes "
              f"{summary['lost_committed_writes']}, journals rolled back {summary['journals_rolled_back']}, "
              f"indexes rebuilt {summary['indexes_rebuilt']}, memories {summary['memories']}; recovery "
              f"(open + first count) median {summary['recovery_s_median']} s, max {summary['recovery_s_max']} s")


if __name__ == "__main__":
    main()
