"""TripBudget: checks budget.csv and total.txt."""

import csv
import re
import sys
from pathlib import Path

EXPECTED = {"guesthouse_night": (2, 190.0), "ferry_return": (2, 49.0), "lighthouse_tour": (2, 24.0),
            "quay_dinner": (4, 125.0)}
errors = []
try:
    with open("budget.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
except FileNotFoundError:
    rows = []
    errors.append("budget.csv was not written")
got = {}
for row in rows:
    try:
        got[(row.get("item") or "").strip()] = (int(float(row["quantity"])), round(float(row["cost"]), 2))
    except (KeyError, TypeError, ValueError):
        errors.append(f"budget.csv: row {row} lacks a numeric quantity or cost")
if rows and got != EXPECTED:
    errors.append(f"budget.csv holds {got}, expected {EXPECTED}")
total = Path("total.txt")
numbers = re.findall(r"\d+\.\d+|\d+", total.read_text(encoding="utf-8")) if total.is_file() else []
if not any(abs(float(n) - 388.0) < 0.005 for n in numbers):
    errors.append("total.txt does not give the total, 388.00")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
