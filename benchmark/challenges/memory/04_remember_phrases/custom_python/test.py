"""RememberPhrases: checks that result.txt holds the remembered items, in order."""

import sys
from pathlib import Path

WANTED = [
    "The tide turns at dusk",
    "Lamps are lit on the north pier",
    "Three bells mean fog",
    "The ferry waits for no one",
    "Salt keeps the nets",
    "Gulls know the weather first",
]
FORBIDDEN = []

try:
    text = Path("result.txt").read_text(encoding="utf-8", errors="replace")
except FileNotFoundError:
    print("Error: result.txt was not written")
    sys.exit(1)
low = text.lower()
errors = [f"{item!r} is missing" for item in WANTED if item.lower() not in low]
positions = [low.find(item.lower()) for item in WANTED]
if not errors and positions != sorted(positions):
    errors.append("the items are not in the order they were given")
errors += [f"{item!r} should not be there" for item in FORBIDDEN if item.lower() in low]
for e in errors:
    print(f"Error: {e}")
if not errors:
    print("ok: all remembered")
sys.exit(1 if errors else 0)
