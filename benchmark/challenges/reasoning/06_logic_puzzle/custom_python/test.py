"""LighthouseKeepers: checks the two answers in answer.txt."""

import re
import sys
from pathlib import Path

try:
    text = Path("answer.txt").read_text(encoding="utf-8", errors="replace")
except FileNotFoundError:
    print("Error: answer.txt was not written")
    sys.exit(1)
errors = []
if not re.search(r"\bBo\b", text):
    errors.append("answer.txt does not say that Bo keeps the North lighthouse")
if not re.search(r"\bdog\b", text, re.IGNORECASE):
    errors.append("answer.txt does not say that the South keeper owns the dog")
for wrong in ("cat", "parrot"):
    if re.search(rf"\b{wrong}\b", text, re.IGNORECASE):
        errors.append(f"answer.txt names the {wrong}: give only the two answers")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
