import os
import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


if not os.path.exists("done.txt"):
    fail("done.txt is missing")
print("ok")
