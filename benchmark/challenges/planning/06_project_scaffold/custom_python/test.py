"""ProjectScaffold: imports the tidecalc package and checks its functions and README."""

import sys
from pathlib import Path

errors = []
try:
    import tidecalc
    from tidecalc.convert import feet_to_metres, metres_to_feet
    from tidecalc.tides import next_high_tide
except Exception as e:  # the package may be missing or broken in any way
    print(f"Error: cannot import the tidecalc package: {type(e).__name__}: {e}")
    sys.exit(1)
if abs(metres_to_feet(3.048) - 10) > 1e-6 or abs(feet_to_metres(10) - 3.048) > 1e-6:
    errors.append("the conversions are wrong (1 foot = 0.3048 m)")
for given, expected in [("06:10", "18:35"), ("13:40", "02:05"), ("23:59", "12:24")]:
    got = next_high_tide(given)
    if got != expected:
        errors.append(f"next_high_tide({given!r}) returned {got!r}, expected {expected!r}")
for name in ("metres_to_feet", "feet_to_metres", "next_high_tide"):
    if not hasattr(tidecalc, name):
        errors.append(f"tidecalc does not export {name}")
readme = Path("README.md")
if not readme.is_file() or "tidecalc" not in readme.read_text(encoding="utf-8"):
    errors.append("README.md is missing or does not show how to use tidecalc")
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
