"""SearchThenRead: checks the facts written to elsker.txt."""

import re
import sys
from pathlib import Path

WANTED = [
    ("3412", "the height (3,412 m)"),
    ("Halvorsen", "the first climber (Runa Halvorsen)"),
]

try:
    text = Path("elsker.txt").read_text(encoding="utf-8", errors="replace")
except FileNotFoundError:
    print("Error: elsker.txt was not written")
    sys.exit(1)
# 3,412 / 3 412 / 3412 all count; case is ignored.
flat = re.sub(r"(?<=\d)[,\u00a0\u202f ](?=\d{3})", "", text).lower()
missing = [label for want, label in WANTED if want.lower() not in flat]
for label in missing:
    print(f"Error: elsker.txt does not give {label}")
if not missing:
    print("ok: every fact is there")
sys.exit(1 if missing else 0)
