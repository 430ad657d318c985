import os
import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


r = open("reversed.txt").read().split() if os.path.exists("reversed.txt") else fail("reversed.txt is missing")
if r != ["three", "two", "one"]:
    fail(f"got {r}")
print("ok")
