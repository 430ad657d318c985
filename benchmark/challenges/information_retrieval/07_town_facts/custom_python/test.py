"""TownFacts: checks the facts written to varnholm.txt."""

import re
import sys
from pathlib import Path

WANTED = [
    ("1287", "the founding year (1287)"),
    ("48200", "the population (48,200)"),
    ("Port Ellery", "the twin town (Port Ellery)"),
]

try:
    text = Path("varnholm.txt").read_text(encoding="utf-8", errors="replace")
except FileNotFoundError:
    print("Error: varnholm.txt was not written")
    sys.exit(1)
# 3,412 / 3 412 / 3412 all count; case is ignored.
flat = re.sub(r"(?<=\d)[,\u00a0\u202f ](?=\d{3})", "", text).lower()
missing = [label for want, label in WANTED if want.lower() not in flat]
for label in missing:
    print(f"Error: varnholm.txt does not give {label}")
if not missing:
    print("ok: every fact is there")
sys.exit(1 if missing else 0)
