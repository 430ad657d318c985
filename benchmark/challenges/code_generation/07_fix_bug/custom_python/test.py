"""FixBug: checks the repaired stats.py."""

import sys

from stats import mean, median, mode

CHECKS = [
    ("mean([1, 2, 3, 6])", lambda: mean([1, 2, 3, 6]), 3),
    ("median([5, 1, 3])", lambda: median([5, 1, 3]), 3),
    ("median([4, 1, 3, 2])", lambda: median([4, 1, 3, 2]), 2.5),
    ("median([10, 2])", lambda: median([10, 2]), 6),
    ("mode([3, 1, 3, 2, 2, 3])", lambda: mode([3, 1, 3, 2, 2, 3]), 3),
    ("mode([7, 5, 5, 7, 9])", lambda: mode([7, 5, 5, 7, 9]), 5),
    ("mode([4])", lambda: mode([4]), 4),
]
failed = False
for text, call, expected in CHECKS:
    try:
        got = call()
    except Exception as e:  # the agent's code may raise anything
        got = f"{type(e).__name__}: {e}"
    if got != expected:
        print(f"Error: {text} gave {got!r}, expected {expected!r}")
        failed = True
print("ok: stats.py is fixed" if not failed else "stats.py still has bugs")
sys.exit(1 if failed else 0)
