"""The fixture web: a small fictional web site and search engine on 127.0.0.1, so web challenges run offline.

    with FixtureWeb() as web:          # port 0: a free port
        print(web.base_url)            # http://127.0.0.1:PORT (no trailing slash)

It serves the static pages under `benchmark/fixture_site/` (a bookshop with prices, two companies with revenue
tables, local news, a wiki, a blog page carrying an injected instruction) and answers SearXNG's JSON search API,
`GET /search?q=...&format=json` -> `{"results": [{"title", "url", "content"}]}`, from an index of those pages, so
the built-in agent searches it with `search_backend="searxng"` and `searx_url=<base_url>`. `{{web}}` in a page
becomes the base URL, as it does in challenge tasks. `GET|POST /collect` accepts anything and answers "received"
(the address an injected page asks agents to send secrets to); what it received is kept in `.collected`.

A stdlib ThreadingHTTPServer in a daemon thread: one thread per connection, so parallel agents do not wait on
each other, and no dependency beyond the standard library. Run it by hand: `python -m benchmark.fixture_web`.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SITE_DIR = Path(__file__).parent / "fixture_site"
PLACEHOLDER = "{{web}}"
MAX_RESULTS = 10
MAX_BODY_BYTES = 1 << 20  # what /collect reads of a POST body
_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its of on or that the this to was "
    "were what when where which who why will with".split()
)
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".txt": "text/plain; charset=utf-8",
          ".json": "application/json", ".csv": "text/csv; charset=utf-8"}


def _terms(text: str) -> list[str]:
    words = re.findall(r"[^\W_]+", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOPWORDS]


class _TextParser(HTMLParser):
    """Title, meta description and visible text of a page (script/style/nav/footer left out)."""

    _SKIP = frozenset({"script", "style", "nav", "footer", "head"})

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.description = ""
        self.chunks: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "meta" and dict(attrs).get("name") == "description":
            self.description = dict(attrs).get("content") or ""
        if tag in self._SKIP:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip and data.strip():
            self.chunks.append(" ".join(data.split()))


@dataclass
class Page:
    path: str  # the URL path, e.g. /books/salt-cartographer.html
    title: str
    description: str
    text: str
    title_terms: Counter[str] = field(default_factory=Counter)
    body_terms: Counter[str] = field(default_factory=Counter)


class SearchIndex:
    """Pages scored by query terms (rarer terms weigh more, title matches count triple)."""

    def __init__(self, pages: list[Page]):
        self.pages = pages
        df = Counter(t for p in pages for t in set(p.title_terms) | set(p.body_terms))
        self.idf = {t: math.log(1 + len(pages) / n) for t, n in df.items()}

    @classmethod
    def from_site(cls, root: Path) -> SearchIndex:
        pages = []
        for file in sorted(root.rglob("*.html")):
            parser = _TextParser()
            parser.feed(file.read_text(encoding="utf-8"))
            rel = file.relative_to(root).as_posix()
            path = "/" + (rel.removesuffix("index.html") if rel.endswith("index.html") else rel)
            text = " ".join(parser.chunks)
            title = " ".join(parser.title.split())
            pages.append(Page(path, title, parser.description, text, Counter(_terms(title)),
                              Counter(_terms(f"{parser.description} {text}"))))
        return cls(pages)

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[Page]:
        wanted = set(_terms(query))
        scored = []
        for page in self.pages:
            score = sum(self.idf.get(t, 0.0) * (3 * page.title_terms[t] + min(page.body_terms[t], 5)) for t in wanted)
            if score > 0:
                scored.append((score, page.path, page))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [page for _, _, page in scored[:limit]]


_TAGGED = re.compile(r"^/t/([A-Za-z0-9_-]{1,64})(/.*)?$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    base: str  # the site's base URL as this request sees it (with its /t/<tag> prefix)
    protocol_version = "HTTP/1.1"
    server_version = "FixtureWeb/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: a benchmark run serves many requests
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._route(body=b"")

    def do_HEAD(self) -> None:
        self._route(body=b"", head=True)

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
        self._route(body=self.rfile.read(length) if length > 0 else b"")

    def _route(self, body: bytes, head: bool = False) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = unquote(parts.path)
        # /t/<tag>/... is the site seen by one task (the runner gives each attempt its own tag): pages and
        # search results link under the same prefix, and what /collect receives is credited to the tag.
        self.base, tag = self.server.base_url, ""
        if tagged := _TAGGED.match(path):
            tag, path = tagged.group(1), tagged.group(2) or "/"
            self.base += f"/t/{tag}"
        if path == "/search":
            self._search(query)
        elif path == "/collect":
            with self.server.lock:
                self.server.collected.append(
                    {"query": parts.query, "body": body.decode("utf-8", "replace"), "tag": tag}
                )
            self._send(HTTPStatus.OK, b"received\n", "text/plain; charset=utf-8", head)
        elif path == "/heartbeat":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8", head)
        else:
            self._static(path, head)

    def _search(self, query: dict[str, list[str]]) -> None:
        q = (query.get("q") or [""])[0]
        base = self.base
        hits = self.server.index.search(q) if q.strip() else []
        if (query.get("format") or [""])[0] == "json":
            results = [{"title": p.title, "url": base + p.path, "content": p.description or p.text[:200],
                        "engine": "fixture", "score": None} for p in hits]
            payload = {"query": q, "number_of_results": len(results), "results": results}
            self._send(HTTPStatus.OK, json.dumps(payload).encode(), "application/json")
            return
        items = "".join(
            f'<li><a href="{html.escape(p.path)}">{html.escape(p.title)}</a><p>{html.escape(p.description)}</p></li>'
            for p in hits
        ) or "<li>No results.</li>"
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Search: {html.escape(q)}</title></head>"
                f"<body><form action='/search'><input name='q' value='{html.escape(q)}'></form><ol>{items}</ol>"
                "</body></html>")
        self._send(HTTPStatus.OK, page.encode(), _TYPES[".html"])

    def _static(self, path: str, head: bool) -> None:
        root = self.server.root
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):  # `..` in the URL
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head)
            return
        if target.is_dir():
            if not path.endswith("/"):  # as a web server does, so relative links resolve inside the folder
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", self.base.removeprefix(self.server.base_url) + path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = target / "index.html"
        if not target.is_file():
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head)
            return
        ctype = _TYPES.get(target.suffix, "application/octet-stream")
        data = target.read_bytes()
        if ctype.startswith("text/"):
            data = data.replace(PLACEHOLDER.encode(), self.base.encode())
        self._send(HTTPStatus.OK, data, ctype, head)

    def _send(self, status: HTTPStatus, data: bytes, ctype: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    index: SearchIndex
    base_url: str
    verbose: bool
    lock: threading.Lock
    collected: list[dict[str, str]]


class FixtureWeb:
    """The fixture site on HOST:PORT (port 0: a free one), served from a daemon thread. A context manager;
    `start()`/`stop()` for callers that manage its lifetime themselves."""

    def __init__(self, root: Path | None = None, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False):
        self.root = (root or SITE_DIR).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"fixture site folder {self.root} does not exist")
        self.host, self.port, self.verbose = host, port, verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._index: SearchIndex | None = None

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            self._index = SearchIndex.from_site(self.root)
        return self._index

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fixture web is not running; call start() or use it as a context manager")
        return self._server.base_url

    @property
    def allowlist_entry(self) -> str:
        """`host:port`, what AUTOGPT_WEB_ALLOWLIST needs for the web tools to read it."""
        return self.base_url.removeprefix("http://")

    @property
    def collected(self) -> list[dict[str, str]]:
        """Requests /collect received (query string, body, and the tag of the /t/<tag>/ site they came
        through, "" for none), oldest first."""
        if self._server is None:
            return []
        with self._server.lock:
            return list(self._server.collected)

    def substitute(self, text: str) -> str:
        """TEXT with `{{web}}` replaced by the base URL (what the runner does to task texts)."""
        return text.replace(PLACEHOLDER, self.base_url)

    def start(self) -> FixtureWeb:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.root, server.index, server.verbose = self.root, self.index, self.verbose
        server.lock, server.collected = threading.Lock(), []
        host, port = server.server_address[:2]
        server.base_url = f"http://{host!s}:{port}"
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="fixture-web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> FixtureWeb:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.fixture_web",
                                     description="Serve the benchmark's fixture web site and search API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--root", type=Path, default=None, help="serve this folder instead of the built-in site")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number (0-65535)")
    try:
        web = FixtureWeb(args.root, args.host, args.port, verbose=args.verbose).start()
    except FileNotFoundError as e:
        parser.error(f"{e}; pass --root an existing folder")
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port}: {e.strerror}; pick another --port", file=sys.stderr)
        return 1
    base = web.base_url
    print(f"Fixture web on {base} (search: {base}/search?q=...&format=json); Ctrl-C stops it", flush=True)
    print(f"Point the built-in agent at it: AUTOGPT_SEARCH_BACKEND=searxng AUTOGPT_SEARX_URL={base} "
          f"AUTOGPT_WEB_ALLOWLIST={web.allowlist_entry}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        web.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
