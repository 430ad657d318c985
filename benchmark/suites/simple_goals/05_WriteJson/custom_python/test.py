import json
import sys


def fail(msg):
    print("Error: " + msg)
    sys.exit(1)


try:
    d = json.load(open("person.json"))
except Exception as e:
    fail(f"person.json is not JSON: {e}")
if not isinstance(d, dict) or d.get("name") != "Ada":
    fail(f"name is not Ada: {d!r}")
print("ok")
