import os
import re
import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


n = (
    [int(x) for x in re.findall(r"\d+", open("primes.txt").read())]
    if os.path.exists("primes.txt")
    else fail("primes.txt is missing")
)
if n != [2, 3, 5, 7, 11, 13, 17, 19]:
    fail(f"got {n}")
print("ok")
