import os
import sys

given = set()
extra = sorted(f for f in os.listdir(".") if f not in given and f != "test.py" and not f.startswith("."))
if extra:
    print("Error: files written: " + ", ".join(extra))
    sys.exit(1)
print("ok: nothing written")
