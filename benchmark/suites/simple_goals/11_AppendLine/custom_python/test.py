import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


w = open("shopping.txt").read().split()
if w[:2] != ["eggs", "flour"] or w[-1:] != ["milk"]:
    fail(f"got {w}")
print("ok")
