"""BookOrder: checks order.csv and total.txt."""

import csv
import re
import sys
from pathlib import Path

EXPECTED = {"the salt cartographer": 23.40, "a grammar of tides": 31.00, "lanterns under ice": 27.75}
errors = []
try:
    with open("order.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
except FileNotFoundError:
    rows = []
    errors.append("order.csv was not written")
got = {}
for row in rows:
    title = (row.get("title") or "").strip().lower()
    try:
        got[title] = round(float((row.get("price") or "").strip().lstrip("$")), 2)
    except ValueError:
        errors.append(f"order.csv: the price of {title!r} is not a number")
if rows and got != EXPECTED:
    errors.append(f"order.csv holds {got}, expected {EXPECTED}")
total = Path("total.txt")
numbers = re.findall(r"\d+\.\d+|\d+", total.read_text(encoding="utf-8")) if total.is_file() else []
if not any(abs(float(n) - 82.15) < 0.005 for n in numbers):
    errors.append("total.txt does not give the total, 82.15")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
