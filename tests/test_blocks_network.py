"""Network blocks against servers on 127.0.0.1 and a registered fake search backend."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from forge.blocks.adapters import run_block
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.web import HTTPRequest, WebScrape, WebSearch
from forge.errors import ToolError
from forge.tools import web

PAGES = {
    "/a": ("<html><head><title>Page A</title></head><body><main><h1>Alpha</h1>"
           "<p>Alpha paragraph about owls and their nocturnal habits in the forest.</p></main></body></html>"),
    "/b": ("<html><head><title>Page B</title></head><body><main>"
           "<p>Beta paragraph about bees, hives and honey making in summer.</p></main></body></html>"),
}


class Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def _reply(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        entry = {"method": self.command, "path": self.path, "headers": dict(self.headers),
                 "body": self.rfile.read(length).decode() if length else ""}
        Handler.requests.append(entry)
        return entry

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        entry = self._record()
        path = self.path.split("?")[0]
        if path in PAGES:
            self._reply(200, PAGES[path].encode(), "text/html; charset=utf-8")
        elif path == "/api":
            self._reply(200, json.dumps({"path": self.path, "token": entry["headers"].get("X-Token")}).encode(),
                        "application/json", **{"X-Served-By": "test"})
        elif path == "/text":
            self._reply(200, b"plain words", "text/plain")
        else:
            self._reply(404, b'{"error": "no such thing"}', "application/json")

    def do_POST(self) -> None:  # noqa: N802
        entry = self._record()
        self._reply(201, json.dumps({"got": entry["body"], "ctype": entry["headers"].get("Content-Type")}).encode(),
                    "application/json")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def ctx(settings, tmp_path: Path, server: str) -> BlockContext:
    # No browser: fetch_page takes its plain-HTTP path.
    settings.browser_path = str(tmp_path / "no-such-chromium")
    # The fixture server is on loopback: allowlisted by its port (and port 9 for the connection-error test).
    settings.web_allowlist = [server.removeprefix("http://"), "127.0.0.1:9"]
    return BlockContext(workspace=tmp_path / "files", settings=settings, credentials=CredentialStore(None, {}))


def run(block: type[Block], data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    return asyncio.run(run_block(block, data, ctx))


# http_request --------------------------------------------------------------------------------
def test_http_get_json_with_headers_and_params(server, ctx) -> None:
    out = dict(run(HTTPRequest, {"url": f"{server}/api", "headers": {"X-Token": "t1"}, "params": {"q": "a b"}}, ctx))
    assert out["status"] == 200
    assert out["json"] == {"path": "/api?q=a+b", "token": "t1"}
    assert json.loads(out["text"]) == out["json"]
    assert out["headers"]["x-served-by"] == "test"
    assert "error" not in out


def test_http_post_json_body(server, ctx) -> None:
    out = dict(run(HTTPRequest, {"url": f"{server}/post", "method": "POST", "json_body": {"k": [1]}}, ctx))
    assert out["status"] == 201
    assert json.loads(out["json"]["got"]) == {"k": [1]}
    assert out["json"]["ctype"] == "application/json"


def test_http_keeps_the_query_string_of_the_url(server, ctx) -> None:
    out = dict(run(HTTPRequest, {"url": f"{server}/api?q=kept"}, ctx))
    assert out["json"]["path"] == "/api?q=kept"
    merged = dict(run(HTTPRequest, {"url": f"{server}/api?q=kept", "params": {"n": 2}}, ctx))
    assert merged["json"]["path"] == "/api?q=kept&n=2"


def test_http_refuses_loopback_that_is_not_allowlisted(server, ctx) -> None:
    ctx.settings.web_allowlist = []
    with pytest.raises(ToolError, match=r"refused: 127\.0\.0\.1 is a loopback address; .* AUTOGPT_WEB_ALLOWLIST"):
        run(HTTPRequest, {"url": f"{server}/api"}, ctx)


def test_http_text_body_is_not_json(server, ctx) -> None:
    out = dict(run(HTTPRequest, {"url": f"{server}/text"}, ctx))
    assert out["text"] == "plain words" and "json" not in out


def test_http_non_2xx_emits_error_not_text(server, ctx) -> None:
    emitted = run(HTTPRequest, {"url": f"{server}/missing"}, ctx)
    names = [name for name, _ in emitted]
    out = dict(emitted)
    assert out["status"] == 404
    assert "text" not in names and "json" not in names
    assert out["error"].startswith("HTTP 404 Not Found") and "no such thing" in out["error"]


def test_http_refuses_other_schemes_and_reports_connection_errors(ctx) -> None:
    with pytest.raises(ToolError, match="only http"):
        run(HTTPRequest, {"url": "file:///etc/passwd"}, ctx)
    with pytest.raises(ToolError, match="GET http://127.0.0.1:9/ failed"):
        run(HTTPRequest, {"url": "http://127.0.0.1:9/", "timeout": 2}, ctx)


# web_scrape ----------------------------------------------------------------------------------
def test_web_scrape_one_url(server, ctx) -> None:
    out = dict(run(WebScrape, {"url": f"{server}/a"}, ctx))
    assert "owls" in out["content"] and "Page A" in out["content"] and f"{server}/a" in out["content"]
    assert out["pages"] == [{"url": f"{server}/a", "title": "Page A", "text": out["pages"][0]["text"]}]


def test_web_scrape_search_results_skip_failures_and_cap(server, ctx) -> None:
    results = [
        {"title": "A", "url": f"{server}/a", "snippet": ""},
        {"title": "gone", "url": f"{server}/gone", "snippet": ""},
        {"title": "B", "url": f"{server}/b", "snippet": ""},
        {"title": "A again", "url": f"{server}/a", "snippet": ""},
    ]
    out = dict(run(WebScrape, {"url": results, "max_content_length": 100}, ctx))
    assert [p["url"] for p in out["pages"]] == [f"{server}/a", f"{server}/gone", f"{server}/b"]
    assert "404" in out["pages"][1]["error"]
    assert "owls" in out["content"] and "bees" in out["content"]
    assert all(len(p["text"]) <= 100 + len("\n[... cut]") for p in out["pages"])
    capped = dict(run(WebScrape, {"url": [f"{server}/a", f"{server}/b"], "max_pages": 1}, ctx))
    assert len(capped["pages"]) == 1 and "bees" not in capped["content"]


def test_web_scrape_all_failing_fails(server, ctx) -> None:
    with pytest.raises(ToolError, match="404"):
        run(WebScrape, {"url": f"{server}/gone"}, ctx)


# web_search ----------------------------------------------------------------------------------
class FakeSearch:
    def __init__(self) -> None:
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, max_results: int) -> list[web.SearchResult]:
        self.queries.append((query, max_results))
        return [web.SearchResult(f"T{i}", f"https://example.com/{i}", f"snippet {i}") for i in range(10)]


def test_web_search_uses_configured_backend(ctx) -> None:
    fake = FakeSearch()
    web.register_search_backend("blocks-fake", lambda settings: fake)
    try:
        ctx.settings.search_backend = "blocks-fake"
        out = dict(run(WebSearch, {"query": "owls", "max_results": 3}, ctx))
    finally:
        web.unregister_search_backend("blocks-fake")
    assert fake.queries == [("owls", 3)]
    assert out["results"][0] == {"title": "T0", "url": "https://example.com/0", "snippet": "snippet 0"}
    assert out["urls"] == [f"https://example.com/{i}" for i in range(3)]  # the backend's extras are cut
    assert WebSearch.cacheable is False
