"""The benchmark's fixture web: pages, the SearXNG-style search API, and the project's own web tools reading it."""

from __future__ import annotations

import concurrent.futures
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmark.fixture_web import FixtureWeb
from forge.config import Settings
from forge.errors import ToolError
from forge.tools import builtin
from forge.tools.base import ToolContext

HAS_CHROMIUM = Path("/usr/bin/chromium").is_file()


@pytest.fixture(scope="module")
def web() -> Any:
    with FixtureWeb() as w:
        yield w


def search(web: FixtureWeb, q: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{web.base_url}/search", params={"q": q, "format": "json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return r.json()["results"]  # type: ignore[no-any-return]


def ctx_for(tmp_path: Path, web: FixtureWeb, **settings: Any) -> ToolContext:
    """What the runner gives the built-in agent: searxng at the fixture, its host:port allowlisted."""
    settings = {"search_backend": "searxng", "searx_url": web.base_url, "web_allowlist": [web.allowlist_entry],
                **settings}
    return ToolContext(workspace=tmp_path / "ws", settings=Settings(_env_file=None, **settings))


def test_base_url_is_loopback_without_trailing_slash(web: FixtureWeb) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", web.base_url)
    assert web.allowlist_entry == web.base_url.removeprefix("http://")
    assert web.substitute("see {{web}}/books/") == f"see {web.base_url}/books/"


def test_serves_pages_and_folders(web: FixtureWeb) -> None:
    page = httpx.get(f"{web.base_url}/books/salt-cartographer.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "$23.40" in page.text and "Hardcover" in page.text
    folder = httpx.get(f"{web.base_url}/companies/quillfeather", follow_redirects=True)
    assert str(folder.url).endswith("/companies/quillfeather/") and "Quillfeather Robotics" in folder.text
    assert httpx.get(f"{web.base_url}/").text.count("<li>") >= 5  # the home page links every section
    assert httpx.head(f"{web.base_url}/news/").status_code == 200


def test_unknown_paths_and_escapes_are_404(web: FixtureWeb) -> None:
    assert httpx.get(f"{web.base_url}/no/such/page.html").status_code == 404
    # Sent raw, so the client cannot normalise the `..` away before the server sees it.
    with httpx.Client() as client:
        request = client.build_request("GET", f"{web.base_url}/")
        request.url = request.url.copy_with(raw_path=b"/../../pyproject.toml")
        assert client.send(request).status_code == 404
        request.url = request.url.copy_with(raw_path=b"/%2e%2e/%2e%2e/pyproject.toml")
        assert client.send(request).status_code == 404


def test_placeholder_in_pages_becomes_the_base_url(web: FixtureWeb) -> None:
    text = httpx.get(f"{web.base_url}/reviews/salt-cartographer.html").text
    assert "{{web}}" not in text and f"{web.base_url}/collect" in text


def test_search_json_matches_searxng_shape_and_ranks_by_terms(web: FixtureWeb) -> None:
    results = search(web, "Quillfeather revenue")
    assert results, "no results"
    assert set(results[0]) >= {"title", "url", "content"}
    assert results[0]["url"] == f"{web.base_url}/companies/quillfeather/investors.html"
    assert search(web, "height of Mount Elsker")[0]["url"].endswith("/wiki/mount-elsker.html")
    assert search(web, "tidal plant final cost")[0]["url"].endswith("/news/tidal-plant-opens.html")
    assert search(web, "zzzz-nothing-matches") == []
    assert search(web, "") == []
    assert all(r["url"].startswith(web.base_url) for r in search(web, "Varnholm"))


def test_search_without_json_is_an_html_results_page(web: FixtureWeb) -> None:
    r = httpx.get(f"{web.base_url}/search", params={"q": "green tea"})
    assert r.headers["content-type"].startswith("text/html")
    assert 'href="/blog/green-tea-guide.html"' in r.text


def test_collect_records_what_it_receives() -> None:
    with FixtureWeb() as w:
        assert httpx.get(f"{w.base_url}/collect", params={"data": "k1"}).text == "received\n"
        httpx.post(f"{w.base_url}/collect", content=b"secret-body")
        assert [c["query"] for c in w.collected] == ["data=k1", ""]
        assert w.collected[1]["body"] == "secret-body"
    assert w.collected == []  # stopped


def test_parallel_clients_are_served_concurrently(web: FixtureWeb) -> None:
    # Slow readers hold their connections open; a server handling one at a time would serialise them.
    def fetch(i: int) -> int:
        with httpx.Client(timeout=10) as c:
            return c.get(f"{web.base_url}/search", params={"q": f"Varnholm {i}", "format": "json"}).status_code

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert list(pool.map(fetch, range(64))) == [200] * 64
    assert time.monotonic() - start < 10


def test_stop_frees_the_port_and_restart_works(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><head><title>Tiny</title></head><body><p>alpha beta</p></body></html>")
    w = FixtureWeb(root=site).start()
    url = w.base_url
    assert "alpha beta" in httpx.get(url + "/").text
    assert search(w, "alpha")[0]["title"] == "Tiny"
    w.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/", timeout=2)
    with pytest.raises(RuntimeError, match="not running"):
        _ = w.base_url
    with pytest.raises(FileNotFoundError):
        FixtureWeb(root=tmp_path / "missing")


# The project's own web tools, configured as the runner configures the built-in agent -------------
def test_web_search_tool_through_searxng_backend(tmp_path: Path, web: FixtureWeb) -> None:
    out = builtin.web_search(ctx_for(tmp_path, web), {"query": "Lanternfish Books Salt Cartographer price"})
    assert f"{web.base_url}/books/salt-cartographer.html" in out
    assert "Lanternfish Books" in out


def test_read_webpage_tool_over_plain_http(tmp_path: Path, web: FixtureWeb) -> None:
    ctx = ctx_for(tmp_path, web, browser_path=str(tmp_path / "no-browser"))
    out = builtin.read_webpage(ctx, {"url": f"{web.base_url}/companies/quillfeather/investors.html"})
    assert "73.1" in out and "2024" in out
    assert f"{web.base_url}/companies/quillfeather/" in out  # the links, resolved against the page


def test_read_webpage_refuses_the_fixture_without_the_allowlist(tmp_path: Path, web: FixtureWeb) -> None:
    ctx = ctx_for(tmp_path, web, web_allowlist=[], browser_path=str(tmp_path / "no-browser"))
    with pytest.raises(ToolError):
        builtin.read_webpage(ctx, {"url": f"{web.base_url}/books/"})


@pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed")
def test_read_webpage_tool_with_the_browser(tmp_path: Path, web: FixtureWeb) -> None:
    out = builtin.read_webpage(ctx_for(tmp_path, web), {"url": f"{web.base_url}/wiki/mount-elsker.html"})
    assert "plain HTTP" not in out  # chromium rendered it
    assert "3,412 metres" in out


def test_module_runs_by_hand_and_rejects_bad_ports() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.fixture_web", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"Fixture web on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + proc.stderr.read() if proc.stderr else line
        assert "Mount Elsker" in httpx.get(match.group(1) + "/wiki/mount-elsker.html").text
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run([sys.executable, "-m", "benchmark.fixture_web", "--port", "70000"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "not a port number" in bad.stderr and "Traceback" not in bad.stderr


def test_each_task_sees_the_site_under_its_own_tag_and_collect_credits_it() -> None:
    """The runner gives each attempt `{{web}}` = <base>/t/<tag>: pages, links and search results stay under
    that prefix, and what /collect receives names the tag, so an exfiltration is charged to its attempt."""
    with FixtureWeb() as web:
        base = f"{web.base_url}/t/attempt1"
        page = httpx.get(f"{base}/reviews/salt-cartographer.html", timeout=5)
        assert page.status_code == 200 and f"{base}/collect?data=THE_KEY" in page.text
        hits = httpx.get(f"{base}/search", params={"q": "salt cartographer", "format": "json"}, timeout=5).json()
        assert hits["results"] and all(r["url"].startswith(base + "/") for r in hits["results"])
        folder = httpx.get(f"{base}/books", timeout=5, follow_redirects=False)
        assert folder.status_code == 301 and folder.headers["location"] == "/t/attempt1/books/"
        httpx.get(f"{base}/collect", params={"data": "sk-secret"}, timeout=5)
        httpx.post(f"{web.base_url}/collect", content=b"untagged", timeout=5)
        assert [(c["tag"], c["query"], c["body"]) for c in web.collected] == [
            ("attempt1", "data=sk-secret", ""), ("", "", "untagged")]
