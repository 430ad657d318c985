import os
import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


b = open("backup.txt").read() if os.path.exists("backup.txt") else fail("backup.txt is missing")
if b.strip() != "buy milk\ncall Ana":
    fail(f"backup.txt differs: {b!r}")
print("ok")
