"""LabelCsv: checks catch_labelled.csv (columns, order and every label)."""

import csv
import sys

EXPECTED = {
    "herring": "fish",
    "cod": "fish",
    "lobster": "crustacean",
    "octopus": "mollusc",
    "mackerel": "fish",
    "crab": "crustacean",
    "squid": "mollusc",
    "salmon": "fish",
    "mussel": "mollusc",
    "prawn": "crustacean",
}

try:
    with open("catch_labelled.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
        header = rows and list(rows[0]) or []
except FileNotFoundError:
    print("Error: catch_labelled.csv was not written")
    sys.exit(1)
errors = []
if header[:3] != ["id", "species", "kg"] or "group" not in header:
    errors.append(f"the columns are {header}, expected id,species,kg then group")
if [r.get("species", "").strip() for r in rows] != list(EXPECTED):
    errors.append("the rows are not the original rows in their original order")
for row in rows:
    species, group = row.get("species", "").strip(), (row.get("group") or "").strip().lower()
    if species in EXPECTED and group != EXPECTED[species]:
        errors.append(f"{species} is labelled {group!r}, expected {EXPECTED[species]!r}")
for e in errors:
    print(f"Error: {e}")
if not errors:
    print("ok: every row is labelled")
sys.exit(1 if errors else 0)
