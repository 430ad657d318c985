"""ThreeSum: checks three_sum.py's three_sum(nums, target) on inputs with exactly one answer."""

import sys

try:
    from three_sum import three_sum
except Exception as e:  # missing or broken: say so rather than dump a traceback
    print(f"Error: cannot import three_sum from three_sum.py: {type(e).__name__}: {e}")
    sys.exit(1)

CASES = [
    ([2, 7, 11, 15], 20, [0, 1, 2]),
    ([2, 7, 0, 15, 12, 0], 2, [0, 2, 5]),
    ([-6, 7, 11, 4], 9, [0, 2, 3]),
    ([10, -3, 5, 8, -1, 20], 14, [0, 2, 4]),
    ([5, 5, 40, 2, 9, 33], 43, [0, 1, 5]),
]

failures = 0
for nums, target, expected in CASES:
    try:
        got = three_sum(list(nums), target)
    except Exception as e:  # the agent's code may raise anything
        print(f"Error: three_sum({nums}, {target}) raised {type(e).__name__}: {e}")
        failures += 1
        continue
    if got is None or sorted(got) != expected:
        print(f"Error: three_sum({nums}, {target}) returned {got!r}, expected {expected}")
        failures += 1
    else:
        print(f"ok: three_sum({nums}, {target}) == {expected}")
sys.exit(1 if failures else 0)
