"""CompareRevenueGrowth: checks the figures and the conclusion in growth.md."""

import re
import sys
from pathlib import Path

try:
    text = Path("growth.md").read_text(encoding="utf-8", errors="replace")
except FileNotFoundError:
    print("Error: growth.md was not written")
    sys.exit(1)
errors = []
for figure, what in [("58.6", "Quillfeather 2023"), ("73.1", "Quillfeather 2024"), ("64.2", "Brightwater 2023"),
                     ("70.5", "Brightwater 2024"), ("24.7", "Quillfeather's growth"), ("9.8", "Brightwater's growth")]:
    if figure not in text:
        errors.append(f"growth.md does not give {what} ({figure})")
sentences = re.split(r"(?<=[.!?])\s+|\n", text)
verdicts = [s for s in sentences if re.search(r"faster|higher growth|grew more|outgrew", s, re.IGNORECASE)]
if not any("quillfeather" in s.lower() for s in verdicts):
    errors.append("growth.md does not conclude that Quillfeather grew faster")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
