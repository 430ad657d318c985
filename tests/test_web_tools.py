"""web_search and read_webpage, entirely on loopback.

conftest.py refuses non-loopback socket.connect; this module also refuses DNS lookups of other
names. ddgs talks through its own (Rust) HTTP client, which those guards cannot see, so it is only
ever run through a proxy on a closed 127.0.0.1 port: its requests then go nowhere but loopback.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from forge.config import Settings
from forge.errors import ConfigError, ToolError
from forge.tools import builtin, web
from forge.tools.base import ToolContext
from forge.tools.web import DDGSBackend, SearchResult, relevant_paragraphs

HAS_CHROMIUM = Path("/usr/bin/chromium").is_file()
needs_browser = pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed")

INDEX = """<!doctype html>
<html><head><title>Fox Facts</title>
<script>
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('dyn').textContent =
    'Rendered by JavaScript: foxes can hear a watch ticking 40 yards away.';
});
</script></head>
<body>
<nav><a href="/about.html">About us</a> | <a href="https://example.org/foxes#top">Fox society</a>
<a href="mailto:fox@example.org">Mail</a> <a href="javascript:void(0)">Nothing</a></nav>
<article>
<h1>All about foxes</h1>
<p>Red foxes are the largest of the true foxes and live across the Northern Hemisphere.</p>
<p>A fox eats rodents, rabbits, birds, fruit and insects; it is an omnivore.</p>
<p>The Python programming language was created by Guido van Rossum and first released in 1991.</p>
<p id="dyn"></p>
</article>
<footer>Copyright 2026 Fox Facts</footer>
</body></html>
"""


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1"):
            raise OSError(f"test tried to resolve {host!r}; tests must stay on loopback")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A static site on 127.0.0.1, served for the duration of one test."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(INDEX)
    (root / "notes.txt").write_text("plain text notes: foxes are crepuscular\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    paragraphs = "".join(f"<p>Paragraph {i} talks about topic number {i} at length.</p>" for i in range(200))
    links = "".join(f'<a href="/page{i}.html">Page {i}</a> ' for i in range(60))
    (root / "long.html").write_text(f"<html><title>Long</title><body>{links}{paragraphs}</body></html>")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ctx_for(tmp_path: Path, **settings: Any) -> ToolContext:
    # The fixture site is on loopback, which the web tools refuse unless allowlisted (any port here:
    # one test also reads a closed port; tests/test_ssrf.py checks the guard itself).
    settings.setdefault("web_allowlist", ["127.0.0.1"])
    return ToolContext(workspace=tmp_path / "ws", settings=Settings(_env_file=None, **settings))


# Search --------------------------------------------------------------------------------------
class LocalBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def search(self, query: str, max_results: int) -> list[SearchResult]:
        self.calls.append((query, max_results))
        hits = [
            SearchResult("Red fox", "https://en.wikipedia.org/wiki/Red_fox", "The red fox is the\n largest."),
            SearchResult("Fox facts", "https://example.org/fox", ""),
        ]
        return hits[:max_results]


@pytest.fixture
def local_backend(monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    backend = LocalBackend()
    monkeypatch.setattr(web, "_OVERRIDES", dict(web._OVERRIDES))  # undone after the test
    web.register_search_backend("local", lambda settings: backend)
    return backend


def test_web_search_with_a_plugged_backend(tmp_path: Path, local_backend: LocalBackend) -> None:
    ctx = ctx_for(tmp_path, search_backend="local")
    with pytest.raises(ToolError, match="less than or equal to 10"):  # the schema bounds it
        builtin.web_search(ctx, {"query": "red fox", "max_results": 50})
    out = builtin.web_search(ctx, {"query": "red fox", "max_results": 10})
    assert out == (
        "1. Red fox\n   https://en.wikipedia.org/wiki/Red_fox\n   The red fox is the largest.\n"
        "2. Fox facts\n   https://example.org/fox"
    )
    assert local_backend.calls == [("red fox", 10)]
    builtin.web_search(ctx, {"query": "fox", "max_results": 1})
    assert local_backend.calls[-1] == ("fox", 1)


def test_no_results_and_empty_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "_OVERRIDES", dict(web._OVERRIDES))

    class Empty:
        def search(self, query: str, max_results: int) -> list[SearchResult]:
            return []

    web.register_search_backend("empty", lambda settings: Empty())
    ctx = ctx_for(tmp_path, search_backend="empty")
    assert builtin.web_search(ctx, {"query": "zzzz"}) == "no results for 'zzzz'; try other words"
    with pytest.raises(ToolError, match="empty"):
        builtin.web_search(ctx, {"query": "  "})


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AUTOGPT_SEARCH_BACKEND.*ddgs"):
        web.get_search_backend("nope", Settings(_env_file=None))


def test_backend_from_a_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from forge import plugins

    plugin = types.SimpleNamespace()

    @plugins.hookimpl
    def register_search_backends(register: Any) -> None:
        register("plugin", lambda settings: LocalBackend())

    plugin.register_search_backends = register_search_backends
    manager = plugins.Plugins(entry_points=False)
    manager.register(plugin, name="test-plugin")
    monkeypatch.setattr(plugins, "_plugins", manager)
    backend = web.get_search_backend("plugin", Settings(_env_file=None))
    assert isinstance(backend, LocalBackend)
    assert "plugin" in web.search_backend_names() and "ddgs" in web.search_backend_names()


def test_ddgs_offline_is_a_quick_clear_tool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real ddgs code path, with every request sent to a closed loopback port.
    monkeypatch.setenv("DDGS_PROXY", f"http://127.0.0.1:{closed_port()}")
    ctx = ctx_for(tmp_path, search_backend="ddgs", web_timeout=3)
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"^web search unavailable \(no network\?\): "):
        builtin.web_search(ctx, {"query": "python"})
    assert time.monotonic() - started < 5


def test_ddgs_hanging_is_cut_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import ddgs

    monkeypatch.setattr(ddgs.DDGS, "text", lambda self, query, **kw: time.sleep(5) or [])
    started = time.monotonic()
    with pytest.raises(ToolError, match="timed out"):
        DDGSBackend(timeout=0.3).search("python", 3)
    assert time.monotonic() - started < 2


def test_ddgs_results_are_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    import ddgs
    from ddgs.exceptions import DDGSException

    rows = [{"title": "T", "href": "https://t.example", "body": "B"}]
    monkeypatch.setattr(ddgs.DDGS, "text", lambda self, query, max_results: rows[:max_results])
    assert DDGSBackend().search("q", 5) == [SearchResult("T", "https://t.example", "B")]

    def no_results(self: Any, query: str, **kw: Any) -> Any:
        raise DDGSException("No results found.")

    monkeypatch.setattr(ddgs.DDGS, "text", no_results)
    assert DDGSBackend().search("q", 5) == []


# Pages ---------------------------------------------------------------------------------------
@needs_browser
def test_read_webpage_renders_with_the_browser(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path, web_timeout=20)
    out = builtin.read_webpage(ctx, {"url": f"{site}/index.html"})
    assert out.startswith(f"Title: Fox Facts\nURL: {site}/index.html\n")
    assert "plain HTTP" not in out  # the browser did it
    assert "Red foxes are the largest of the true foxes" in out
    assert "Rendered by JavaScript: foxes can hear" in out  # only a browser runs the script
    assert f"- About us: {site}/about.html" in out  # relative links made absolute
    assert "- Fox society: https://example.org/foxes\n" in out + "\n"  # fragment dropped
    assert "mailto:" not in out and "javascript:" not in out


@needs_browser
def test_read_webpage_answers_a_question_with_relevant_paragraphs(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path)
    question = "Who created the Python language?"
    out = builtin.read_webpage(ctx, {"url": f"{site}/index.html", "question": question})
    assert "Guido van Rossum" in out
    assert "Red foxes are the largest" not in out
    assert "Paragraphs most relevant to" in out


def test_static_fallback_when_there_is_no_browser(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path, browser_path=str(tmp_path / "no-such-chromium"))
    started = time.monotonic()
    out = builtin.read_webpage(ctx, {"url": f"{site}/index.html"})
    assert time.monotonic() - started < 3
    assert "Title: Fox Facts" in out
    assert "read over plain HTTP without JavaScript: no browser at" in out
    assert "A fox eats rodents" in out
    assert "Rendered by JavaScript" not in out  # no script ran: proof this was the static path
    assert f"- About us: {site}/about.html" in out


def test_long_pages_fit_the_observation_limit(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path, browser_path="/nonexistent", max_observation_chars=2000)
    out = builtin.read_webpage(ctx, {"url": f"{site}/long.html"})
    assert len(out) <= 2000
    assert "Paragraph 0 talks" in out and "page text cut at" in out and "pass a question" in out
    assert f"- Page 0: {site}/page0.html" in out and "more links" in out
    answer = builtin.read_webpage(ctx, {"url": f"{site}/long.html", "question": "topic number 137"})
    assert "Paragraph 137 talks" in answer


def test_static_fallback_when_the_browser_fails(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path, browser_path="/bin/true", web_timeout=5)  # exists, but is no browser
    out = builtin.read_webpage(ctx, {"url": f"{site}/index.html"})
    assert "browser failed" in out and "A fox eats rodents" in out


def test_static_fetch_reads_text_and_refuses_binaries(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path, browser_path="/nonexistent")
    assert "foxes are crepuscular" in builtin.read_webpage(ctx, {"url": f"{site}/notes.txt"})
    with pytest.raises(ToolError, match="image/png, not a web page"):
        builtin.read_webpage(ctx, {"url": f"{site}/image.png"})
    with pytest.raises(ToolError, match="HTTP 404"):
        builtin.read_webpage(ctx, {"url": f"{site}/missing.html"})
    with pytest.raises(ToolError, match="could not fetch"):
        builtin.read_webpage(ctx, {"url": f"http://127.0.0.1:{closed_port()}/"})


@needs_browser
def test_browser_reports_http_errors(tmp_path: Path, site: str) -> None:
    with pytest.raises(ToolError, match="HTTP 404"):
        builtin.read_webpage(ctx_for(tmp_path), {"url": f"{site}/missing.html"})


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "ftp://x.org/a", "data:text/html,hi", "http://", "notes"],
)
def test_only_http_urls_are_read(tmp_path: Path, url: str) -> None:
    with pytest.raises(ToolError, match="only http:// and https://"):
        builtin.read_webpage(ctx_for(tmp_path), {"url": url})


@needs_browser
def test_read_webpage_works_inside_a_running_event_loop(tmp_path: Path, site: str) -> None:
    ctx = ctx_for(tmp_path)

    async def agent_step() -> str:
        return builtin.read_webpage(ctx, {"url": f"{site}/index.html"})  # sync API, loop running

    out = asyncio.run(agent_step())
    assert "Rendered by JavaScript" in out


def test_relevant_paragraphs_scores_by_keyword_overlap() -> None:
    text = "Foxes live in dens.\nThe capital of France is Paris.\nParis hosts the Louvre museum.\nCats purr."
    assert relevant_paragraphs(text, "What is the capital of France?") == ["The capital of France is Paris."]
    assert relevant_paragraphs(text, "Paris museums") == ["Paris hosts the Louvre museum."]
    assert relevant_paragraphs(text, "Where is Paris?") == [
        "The capital of France is Paris.",
        "Paris hosts the Louvre museum.",
    ]
    assert relevant_paragraphs(text, "quantum chromodynamics") == []
    # A word found in every paragraph ("topic") barely counts; the rare one ("137") decides.
    many = "\n".join(f"Paragraph {i} is about topic {i}." for i in range(200))
    assert relevant_paragraphs(many, "topic 137") == ["Paragraph 137 is about topic 137."]
