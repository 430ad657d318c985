"""Long-term memory at agent scale: recall, query latency and add throughput (prints figures).

    .venv/bin/python benchmark/perf/bench_memory.py [--memories 10000] [--singles 200]

Builds 10,000 agent-like memories (thoughts, actions, tool results, notes over many topics, from
templates with a fixed seed) plus 100 planted facts, in a temporary store deleted afterwards, then
asks for each fact with a paraphrased question (different wording, never the fact's text).
Targets: recall@5 >= 95%, query p50 <= 25 ms (query embedding included), adds >= 50/s.
Then reopens the closed store a few times: open + first count, and what the pre-flight checks
(`PRAGMA quick_check`, the HNSW file check) cost of that.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from forge.config import Settings  # noqa: E402
from forge.memory import preflight  # noqa: E402
from forge.memory.embeddings import MiniLMEmbedder  # noqa: E402
from forge.memory.hnsw_files import check_segment  # noqa: E402
from forge.memory.store import MemoryStore  # noqa: E402

# (fact template, paraphrased question template, fills). Each fill names its own entities, so the
# 4 facts of a template differ in what a question asks about, not only in wording.
PLANTED: list[tuple[str, str, list[dict[str, str]]]] = [
    ("The {p} project's staging database password rotates every {n} days",
     "How often does the {p} staging DB password change?",
     [{"p": "Zephyr", "n": "12"}, {"p": "Orion", "n": "30"}, {"p": "Basalt", "n": "7"}, {"p": "Quill", "n": "45"}]),
    ("{who} is the on-call engineer for {p} payments this week",
     "Who is on call for the {p} payment system right now?",
     [{"who": "Priya", "p": "Lumen"}, {"who": "Marcus", "p": "Harbor"}, {"who": "Ines", "p": "Nimbus"},
      {"who": "Tomasz", "p": "Kestrel"}]),
    ("The {p} API rate limit is {n} requests per minute per key",
     "How many calls per minute can one key make to the {p} API?",
     [{"p": "Fernway", "n": "600"}, {"p": "Glimmer", "n": "120"}, {"p": "Tundra", "n": "3000"},
      {"p": "Saffron", "n": "90"}]),
    ("Backups of the {p} cluster are stored in the {r} bucket",
     "Where do the {p} cluster backups end up?",
     [{"p": "Atlas", "r": "cold-archive-eu"}, {"p": "Vega", "r": "snapshots-us-west"},
      {"p": "Cobalt", "r": "dr-backups-ap"}, {"p": "Juniper", "r": "nightly-dumps"}]),
    ("{who}'s favourite programming language is {x}",
     "Which coding language does {who} like best?",
     [{"who": "Aurelia", "x": "OCaml"}, {"who": "Bartholomew", "x": "Elixir"}, {"who": "Chiamaka", "x": "Zig"},
      {"who": "Dmitri", "x": "Haskell"}]),
    ("The {p} mobile app release is scheduled for {d}",
     "When is the {p} app going to ship on phones?",
     [{"p": "Pebble", "d": "March 3rd"}, {"p": "Marigold", "d": "the last week of June"},
      {"p": "Sprocket", "d": "October 14"}, {"p": "Wisteria", "d": "early December"}]),
    ("The {p} office wifi password is {x}",
     "What's the wireless network key at the {p} office?",
     [{"p": "Lisbon", "x": "sardine-42"}, {"p": "Nairobi", "x": "acacia-sunrise"},
      {"p": "Osaka", "x": "takoyaki-9"}, {"p": "Calgary", "x": "chinook-77"}]),
    ("The {p} service writes its logs to {x}",
     "Where can I find the log files of the {p} service?",
     [{"p": "billing-gateway", "x": "/var/log/billing/gw.log"}, {"p": "thumbnailer", "x": "/srv/thumbs/logs"},
      {"p": "mailer-daemon", "x": "/opt/mailer/log/out.log"}, {"p": "geo-indexer", "x": "/data/geo/logs"}]),
    ("Customer {c} renewed their contract for {n} years",
     "For how long did {c} extend their agreement with us?",
     [{"c": "Brightwater Foods", "n": "three"}, {"c": "Halvorsen Shipping", "n": "two"},
      {"c": "Kimura Robotics", "n": "five"}, {"c": "Oakridge Clinics", "n": "four"}]),
    ("The {p} build takes about {n} minutes on CI",
     "How long does a {p} CI pipeline run last?",
     [{"p": "Falcon", "n": "18"}, {"p": "Meridian", "n": "42"}, {"p": "Ostrich", "n": "6"},
      {"p": "Trellis", "n": "25"}]),
    ("{who} prefers to be contacted on {x} rather than email",
     "What channel should I use to reach {who} instead of mail?",
     [{"who": "Giorgio", "x": "Signal"}, {"who": "Hanne", "x": "Slack"}, {"who": "Kwame", "x": "the phone"},
      {"who": "Lucia", "x": "Microsoft Teams"}]),
    ("The {p} dashboard is at {x}",
     "What's the URL of the {p} monitoring dashboard?",
     [{"p": "Heron", "x": "grafana.internal/d/heron"}, {"p": "Mistral", "x": "metrics.corp/mistral"},
      {"p": "Quokka", "x": "dash.quokka.dev"}, {"p": "Rowan", "x": "ops.example.org/rowan"}]),
    ("The {p} feature flag must stay off until {x} signs off",
     "Who has to approve before we enable the {p} flag?",
     [{"p": "new-checkout", "x": "legal"}, {"p": "dark-mode-v2", "x": "the design lead"},
      {"p": "instant-refunds", "x": "finance"}, {"p": "ai-summaries", "x": "the privacy officer"}]),
    ("The {p} team's standup happens at {t}",
     "What time is the daily {p} team meeting?",
     [{"p": "platform", "t": "9:15"}, {"p": "growth", "t": "10:30"}, {"p": "data science", "t": "11:00"},
      {"p": "security", "t": "8:45"}]),
    ("{who} is allergic to {x}, so avoid it at team lunches",
     "What food must we not order for {who}?",
     [{"who": "Esperanza", "x": "peanuts"}, {"who": "Fionnuala", "x": "shellfish"},
      {"who": "Gustavo", "x": "gluten"}, {"who": "Hiroshi", "x": "sesame"}]),
    ("The {p} server runs out of disk when the {x} directory grows past {n} GB",
     "What fills up the disk on the {p} machine?",
     [{"p": "render-farm", "x": "tmp/frames", "n": "800"}, {"p": "ci-runner-3", "x": "docker layers", "n": "200"},
      {"p": "wiki", "x": "attachments", "n": "50"}, {"p": "mail-relay", "x": "queue spool", "n": "20"}]),
    ("The {p} invoices are paid net {n} days",
     "What are the payment terms for {p} invoices?",
     [{"p": "Acme Logistics", "n": "30"}, {"p": "Bluefin Media", "n": "60"}, {"p": "Corvid Labs", "n": "15"},
      {"p": "Dunmore Textiles", "n": "45"}]),
    ("The {p} repository uses {x} for dependency management",
     "Which package manager does the {p} repo rely on?",
     [{"p": "frontend-web", "x": "pnpm"}, {"p": "ml-pipeline", "x": "Poetry"}, {"p": "infra-tools", "x": "Go modules"},
      {"p": "legacy-erp", "x": "Maven"}]),
    ("The {p} certificate expires on {d}",
     "When does the TLS cert for {p} run out?",
     [{"p": "shop.example.com", "d": "April 9"}, {"p": "api.northwind.io", "d": "August 21"},
      {"p": "vpn.corp.local", "d": "January 2"}, {"p": "status.pagely.net", "d": "November 30"}]),
    ("The maximum upload size in {p} is {n} MB",
     "How big can a file be when uploading to {p}?",
     [{"p": "DocVault", "n": "250"}, {"p": "PhotoDrop", "n": "40"}, {"p": "ClipShare", "n": "2048"},
      {"p": "FormForge", "n": "10"}]),
    ("{who} owns the budget for the {p} initiative",
     "Who controls the spending for {p}?",
     [{"who": "Sanjay", "p": "green-datacenter"}, {"who": "Margarethe", "p": "customer-portal"},
      {"who": "Obinna", "p": "hiring-2027"}, {"who": "Yuki", "p": "brand-refresh"}]),
    ("The {p} sensor readings are sampled every {n} seconds",
     "At what interval does the {p} sensor take a measurement?",
     [{"p": "greenhouse humidity", "n": "30"}, {"p": "boiler pressure", "n": "5"},
      {"p": "warehouse temperature", "n": "120"}, {"p": "river level", "n": "900"}]),
    ("The {p} meeting room has a broken {x}",
     "What equipment is faulty in the {p} conference room?",
     [{"p": "Everest", "x": "projector"}, {"p": "Kilimanjaro", "x": "speakerphone"},
      {"p": "Denali", "x": "whiteboard"}, {"p": "Elbrus", "x": "HDMI cable"}]),
    ("The {p} model was trained on {n} thousand labelled examples",
     "How much labelled training data did the {p} model use?",
     [{"p": "churn-predictor", "n": "85"}, {"p": "spam-filter", "n": "400"}, {"p": "lead-scorer", "n": "12"},
      {"p": "defect-detector", "n": "230"}]),
    ("The {p} warehouse ships orders placed before {t} the same day",
     "What's the same-day shipping cutoff at the {p} warehouse?",
     [{"p": "Rotterdam", "t": "2 pm"}, {"p": "Memphis", "t": "4 pm"}, {"p": "Singapore", "t": "11 am"},
      {"p": "Leipzig", "t": "1 pm"}]),
]

TOPICS = {
    "web scraping": ["crawler", "HTML parser", "robots.txt", "CSS selector", "pagination", "user agent"],
    "data analysis": ["pandas DataFrame", "CSV export", "pivot table", "outliers", "median", "histogram"],
    "devops": ["Kubernetes pod", "Helm chart", "Terraform plan", "nginx config", "load balancer", "cron job"],
    "databases": ["index", "migration", "connection pool", "slow query", "replica lag", "foreign key"],
    "frontend": ["React component", "CSS grid", "bundle size", "hydration error", "form validation", "dark mode"],
    "security": ["API token", "SSH key", "firewall rule", "CVE", "password hash", "audit log"],
    "finance": ["invoice", "quarterly report", "exchange rate", "VAT", "ledger", "expense claim"],
    "travel": ["flight", "hotel booking", "visa", "itinerary", "train ticket", "conference venue"],
    "research": ["paper", "citation", "dataset", "benchmark", "ablation", "literature review"],
    "writing": ["blog post", "outline", "README", "changelog", "press release", "newsletter"],
    "cooking": ["recipe", "sourdough starter", "oven temperature", "spice mix", "meal plan", "grocery list"],
    "gardening": ["tomato seedlings", "compost", "watering schedule", "pruning", "soil pH", "raised bed"],
    "machine learning": ["training run", "learning rate", "overfitting", "embedding", "eval set", "checkpoint"],
    "customer support": ["ticket", "refund request", "FAQ", "escalation", "response template", "SLA"],
    "hardware": ["Raspberry Pi", "GPIO pin", "firmware", "soldering", "battery", "USB adapter"],
    "music": ["playlist", "chord progression", "metronome", "audio mix", "MIDI file", "guitar tuning"],
}
THOUGHTS = [
    "I should look at the {a} before touching the {b}.",
    "The {a} seems related to the {b}; checking that next.",
    "Plan: inspect the {a}, then update the {b}, then verify.",
    "The user wants the {a} fixed first; the {b} can wait.",
    "I am not sure the {a} matters for {topic}; I will search for it.",
    "Maybe the {b} is stale, so the {a} shows old data.",
]
ACTIONS = [
    "web_search(query=\"{topic} {a} best practices\")",
    "read_file(path=\"notes/{topic_slug}/{a_slug}.md\")",
    "write_file(path=\"out/{a_slug}.txt\", content=\"summary of the {b}\")",
    "execute_python(code=\"check_{a_slug}()\")",
    "execute_shell(command=\"grep -r {a_slug} src/\")",
    "read_webpage(url=\"https://docs.example.com/{topic_slug}/{b_slug}\")",
]
RESULTS = [
    "Found {n} results about the {a}; the top one covers the {b}.",
    "The file lists {n} entries for the {a}, none mention the {b}.",
    "Error: the {a} returned status {code} while loading the {b}.",
    "Done: wrote {n} lines about the {a} to out/{a_slug}.txt.",
    "The {b} check passed after {n} attempts; the {a} is fine.",
    "Timed out after {n} s waiting for the {a}.",
]
NOTES = [
    "Note: the {a} for {topic} is documented in the team wiki.",
    "Note: {who} said the {b} must be reviewed before Friday.",
    "Note: keep the {a} under {n} items to stay fast.",
    "Reminder: the {topic} work depends on the {b}.",
]
PEOPLE = ["Alice", "Bob", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jules", "Kofi", "Lena"]


def slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s.lower())


def distractors(n: int, seed: int = 1234) -> tuple[list[str], list[dict]]:
    rnd = random.Random(seed)
    texts, metas = [], []
    kinds = [("thought", THOUGHTS), ("action", ACTIONS), ("result", RESULTS), ("note", NOTES)]
    for i in range(n):
        topic = rnd.choice(list(TOPICS))
        a, b = rnd.sample(TOPICS[topic], 2)
        kind, templates = rnd.choice(kinds)
        fill = {"a": a, "b": b, "topic": topic, "a_slug": slug(a), "b_slug": slug(b), "topic_slug": slug(topic),
                "n": rnd.randint(2, 500), "code": rnd.choice([400, 403, 404, 500, 502, 503]),
                "who": rnd.choice(PEOPLE)}
        texts.append(rnd.choice(templates).format(**fill))
        metas.append({"kind": kind, "run_id": f"run-{i // 40:04d}", "step": i % 40})
    return texts, metas


def planted() -> list[tuple[str, str]]:
    return [(fact.format(**f), question.format(**f)) for fact, question, fills in PLANTED for f in fills]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--singles", type=int, default=200)
    args = ap.parse_args()
    facts = planted()
    texts, metas = distractors(args.memories)
    embedder = MiniLMEmbedder()
    t0 = time.perf_counter()
    embedder.load()
    print(f"model load: {time.perf_counter() - t0:.2f} s")

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        settings = Settings(workspace=Path(tmp), agent_name="bench", _env_file=None)  # type: ignore[call-arg]
        with MemoryStore.open(settings, embedder=embedder) as store:
            t0 = time.perf_counter()
            store.add_many(texts, metas)
            dt = time.perf_counter() - t0
            print(f"add_many: {len(texts)} memories in {dt:.1f} s = {len(texts) / dt:.0f}/s")

            # Planted facts go in one by one, like the agent's per-cycle adds, scattered in time.
            t0 = time.perf_counter()
            for i, (fact, _) in enumerate(facts):
                store.add(fact, kind="note", run_id=f"run-planted-{i}", step=i)
            singles = [f"Single-add probe {i}: the {t} status was checked again" for i, t in
                       enumerate(list(TOPICS) * (args.singles // len(TOPICS) + 1))][: args.singles]
            for i, text in enumerate(singles):
                store.add(text, kind="thought", run_id="run-singles", step=i)
            dt = time.perf_counter() - t0
            n_single = len(facts) + len(singles)
            print(f"add (single): {n_single} memories in {dt:.1f} s = {n_single / dt:.0f}/s")
            total = store.count()
            print(f"store: {total} memories")

            for _, q in facts[:5]:  # warm-up
                store.search(q)
            found, latencies, embed_ms, ranks = 0, [], [], []
            for fact, question in facts:
                t0 = time.perf_counter()
                hits = store.search(question, top_k=5)
                latencies.append((time.perf_counter() - t0) * 1000)
                texts_hit = [h.text for h in hits]
                if fact in texts_hit:
                    found += 1
                    ranks.append(texts_hit.index(fact) + 1)
                else:
                    print(f"  miss: {question!r} -> {texts_hit[0]!r}")
                t0 = time.perf_counter()
                embedder.embed([question])
                embed_ms.append((time.perf_counter() - t0) * 1000)
            print(f"recall@5: {found}/{len(facts)} = {100 * found / len(facts):.0f}% "
                  f"(rank 1: {ranks.count(1)}; target >= 95%)")
            print(f"search at {total}: p50 {statistics.median(latencies):.1f} ms, p95 {pct(latencies, 0.95):.1f} ms "
                  f"(query embedding alone p50 {statistics.median(embed_ms):.1f} ms; target p50 <= 25 ms)")
        opening(settings, embedder, total)


def opening(settings: Settings, embedder: MiniLMEmbedder, total: int, rounds: int = 5) -> None:
    """What opening a closed store costs, and the share of its pre-flight checks (median of `rounds`)."""
    folder = settings.memory_dir()
    db = folder / preflight.SQLITE_FILE
    size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    opens, checks, quick, segment = [], [], [], []
    segment_dir = next(p for p in folder.iterdir() if p.is_dir())
    for _ in range(rounds):
        t0 = time.perf_counter()
        with MemoryStore.open(settings, embedder=embedder, writer=False) as store:
            store.count()  # Chroma loads the index and replays its log tail on first use
        opens.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        preflight.inspect(folder, crashed=False, may_repair=False, keep_log=False)
        checks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        conn.execute("PRAGMA quick_check").fetchall()
        conn.close()
        quick.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        check_segment(segment_dir, embedder.dim)
        segment.append(time.perf_counter() - t0)
    ms = lambda xs: f"{1000 * statistics.median(xs):.0f} ms"  # noqa: E731
    print(f"open at {total} ({size_mb:.0f} MB on disk): open + first count {ms(opens)}, of which pre-flight "
          f"{ms(checks)} = PRAGMA quick_check {ms(quick)} + HNSW file check {ms(segment)} + the rest")


if __name__ == "__main__":
    main()
