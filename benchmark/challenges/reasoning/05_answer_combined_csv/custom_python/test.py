"""AnswerQuestionCombinedCsv: checks the owner and the total in answer.txt."""

import re
import sys
from pathlib import Path

try:
    text = Path("answer.txt").read_text(encoding="utf-8", errors="replace")
except FileNotFoundError:
    print("Error: answer.txt was not written")
    sys.exit(1)
errors = []
if "Tove Berg".lower() not in text.lower():
    errors.append("answer.txt does not name the owner")
numbers = [n.replace(",", "") for n in re.findall(r"\d[\d,]*", text)]
if "945" not in numbers:
    errors.append("answer.txt does not give the total in kilograms")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
