import os
import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


t = open("haiku.txt").read() if os.path.exists("haiku.txt") else fail("haiku.txt is missing")
if len(t.split()) < 4:
    fail("haiku.txt holds fewer than 4 words")
print("ok")
