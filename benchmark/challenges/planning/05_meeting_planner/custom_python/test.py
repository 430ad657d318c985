"""MeetingPlanner: checks meeting.txt and invite.md."""

import sys
from pathlib import Path

errors = []
meeting = Path("meeting.txt")
if not meeting.is_file():
    errors.append("meeting.txt was not written")
elif "2025-06-03 16:00-17:00" not in meeting.read_text(encoding="utf-8").replace(" - ", "-"):
    errors.append("meeting.txt does not give the earliest common free hour, 2025-06-03 16:00-17:00")
invite = Path("invite.md")
text = invite.read_text(encoding="utf-8") if invite.is_file() else ""
if not text:
    errors.append("invite.md was not written")
else:
    errors += [f"invite.md does not mention {word}" for word in ("Alva", "Bo", "Cyrus", "16:00") if word not in text]
for e in errors:
    print(f"Error: {e}")
sys.exit(1 if errors else 0)
