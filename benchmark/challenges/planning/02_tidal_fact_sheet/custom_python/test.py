"""TidalFactSheet: checks tidal/facts.json, tidal/timeline.md and tidal/README.md."""

import json
import re
import sys
from pathlib import Path

EXPECTED = {
    "capacity_mw": 48,
    "turbines": 16,
    "turbine_mw": 3,
    "budget_million_crowns": 210,
    "final_cost_million_crowns": 236,
    "homes_supplied": 31000,
    "opened": "2025-09-14",
}
DATES = ["2023-03-08", "2024-05-21", "2025-09-14"]

errors = []
try:
    facts = json.loads(Path("tidal/facts.json").read_text(encoding="utf-8"))
except FileNotFoundError:
    errors.append("tidal/facts.json was not written")
    facts = {}
except ValueError as e:
    errors.append(f"tidal/facts.json is not valid JSON: {e}")
    facts = {}
if not isinstance(facts, dict):
    errors.append("tidal/facts.json is not a JSON object")
    facts = {}
for key, want in EXPECTED.items():
    got = facts.get(key)
    if isinstance(want, int):
        ok = isinstance(got, int | float) and not isinstance(got, bool) and got == want
    else:
        ok = got == want
    if not ok:
        errors.append(f"facts.json: {key} is {got!r}, expected {want!r}")
timeline = Path("tidal/timeline.md")
if not timeline.is_file():
    errors.append("tidal/timeline.md was not written")
else:
    found = re.findall(r"^\W*(\d{4}-\d{2}-\d{2})", timeline.read_text(encoding="utf-8"), re.MULTILINE)
    if found != DATES:
        errors.append(f"timeline.md lists the dates {found}, expected {DATES} in that order")
readme = Path("tidal/README.md")
if not readme.is_file() or "facts.json" not in readme.read_text(encoding="utf-8"):
    errors.append("tidal/README.md is missing or does not mention facts.json")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
