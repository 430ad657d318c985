"""A URL shortener whose codes persist in urls.json in the current folder.

    python url_shortener.py shorten https://example.org/a/long/path   -> prints a code
    python url_shortener.py retrieve CODE                              -> prints the URL
"""

import hashlib
import json
import sys
from pathlib import Path

STORE = Path("urls.json")


def _load() -> dict[str, str]:
    return json.loads(STORE.read_text()) if STORE.exists() else {}


def shorten_url(url: str) -> str:
    codes = _load()
    for code, known in codes.items():
        if known == url:
            return code
    digest = hashlib.sha256(url.encode()).hexdigest()
    code = digest[:8]
    while code in codes:  # a collision: take the next slice of the digest
        digest = hashlib.sha256(digest.encode()).hexdigest()
        code = digest[:8]
    codes[code] = url
    STORE.write_text(json.dumps(codes, indent=2))
    return code


def retrieve_url(code: str) -> str:
    return _load()[code]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("shorten", "retrieve"):
        print("usage: url_shortener.py shorten URL | retrieve CODE", file=sys.stderr)
        return 2
    command, value = argv
    try:
        print(shorten_url(value) if command == "shorten" else retrieve_url(value))
    except KeyError:
        print(f"unknown code {value}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
