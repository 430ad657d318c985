"""Web search behind a pluggable backend, and page reading with a real browser.

Search backends are looked up by name (`settings.search_backend`): `ddgs` and `searxng` are built
in, plugins add theirs through forge.plugins (`register_search_backends`: a name and a factory that
takes the Settings and returns a backend), and tests and offline benchmarks can swap one in for the
process with `register_search_backend`.

Pages are rendered by headless Chromium through Playwright (JavaScript runs, so client-rendered
sites work; forge.tools.browser sandboxes it and routes its traffic); when the browser is missing
or fails, a plain HTTP fetch with httpx takes over. Both paths go through the SSRF guard
(forge.security.netguard) and feed the same extraction: trafilatura for the main text, lxml for
the title and links.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from forge.errors import ConfigError, ToolError

if TYPE_CHECKING:
    from forge.config import Settings

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36"
MAX_TEXT_CHARS = 6000  # page text handed to the model, at most
MAX_LINKS = 20
MAX_SNIPPET_CHARS = 200
MAX_ANSWER_PARAGRAPHS = 5
MAX_DOWNLOAD_BYTES = 5 * 1024 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")

T = TypeVar("T")


# Search --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    snippet: str = ""


class SearchBackend(Protocol):
    def search(self, query: str, max_results: int) -> list[SearchResult]: ...


SearchBackendFactory = Callable[["Settings"], SearchBackend]


def _short(error: object, limit: int = 160) -> str:
    """One line of at most `limit` characters from an exception or message."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DDGSBackend:
    """Metasearch through `ddgs` (DuckDuckGo, Bing, Brave, ... no API key)."""

    def __init__(self, timeout: float = 10.0, proxy: str | None = None):
        self.timeout = timeout
        self.proxy = proxy

    def search(self, query: str, max_results: int) -> list[SearchResult]:
        from ddgs import DDGS
        from ddgs.exceptions import DDGSException

        def run() -> list[dict[str, Any]]:
            client = DDGS(proxy=self.proxy, timeout=max(int(self.timeout), 1))
            return client.text(query, max_results=max_results)

        deadline = self.timeout * 2
        try:
            # ddgs queries engines in batches, each allowed the full timeout; the deadline keeps a
            # slow network from stalling the agent for several timeouts in a row.
            rows = _with_deadline(run, deadline)
        except TimeoutError:
            raise ToolError(f"web search timed out after {deadline:g}s; try again later") from None
        except DDGSException as e:
            if "No results found" in str(e):
                return []
            raise ToolError(f"web search unavailable (no network?): {_short(e)}") from None
        except OSError as e:
            raise ToolError(f"web search unavailable (no network?): {_short(e)}") from None
        return [
            SearchResult(str(r.get("title", "")), str(r.get("href", "")), str(r.get("body", "")))
            for r in rows
        ]


def _with_deadline(func: Callable[[], T], seconds: float) -> T:
    """Run `func` in a daemon thread; raise TimeoutError if it is not done in time (it is left
    to finish on its own, and cannot keep the process alive at exit)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, name="web-deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class SearxngBackend:
    """A SearXNG instance's JSON API (`<url>/search?q=...&format=json`): self-hosted metasearch.

    The instance must allow the json format (`search.formats` in its settings.yml)."""

    def __init__(self, url: str | None, timeout: float = 10.0):
        if not url:
            raise ConfigError(
                "search backend searxng needs the instance's URL; set AUTOGPT_SEARX_URL=http://host:8080"
            )
        self.url = url.rstrip("/")
        self.timeout = timeout

    def search(self, query: str, max_results: int) -> list[SearchResult]:
        import httpx

        try:
            response = httpx.get(
                f"{self.url}/search",
                params={"q": query, "format": "json"},
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=self.timeout,
                follow_redirects=True,
            )
        except httpx.HTTPError as e:
            raise ToolError(f"SearXNG at {self.url} is unreachable: {_short(e)}") from None
        if response.status_code == 403:
            raise ToolError(f"SearXNG at {self.url} refused the JSON format; enable `json` in its search.formats")
        if response.status_code >= 400:
            raise ToolError(f"SearXNG at {self.url} answered HTTP {response.status_code}")
        try:
            rows = response.json().get("results") or []
        except (ValueError, AttributeError):
            raise ToolError(f"SearXNG at {self.url} did not answer JSON; check AUTOGPT_SEARX_URL") from None
        return [
            SearchResult(str(r.get("title", "")), str(r.get("url", "")), str(r.get("content") or ""))
            for r in rows[:max_results]
            if isinstance(r, dict) and r.get("url")
        ]


# Set for this process by register_search_backend (tests, benchmarks); checked before the plugins.
_OVERRIDES: dict[str, SearchBackendFactory] = {}


def register_search_backend(name: str, factory: SearchBackendFactory) -> None:
    """Make `factory(settings)` search backend `name` in this process (over a plugin's of that name)."""
    _OVERRIDES[name] = factory


def unregister_search_backend(name: str) -> None:
    _OVERRIDES.pop(name, None)


def search_backend_names() -> list[str]:
    from forge.plugins import get_plugins

    return sorted({*_OVERRIDES, *get_plugins().search_backends()})


def get_search_backend(name: str, settings: Settings | None = None) -> SearchBackend:
    """The backend registered as `name` (by register_search_backend, else by a plugin)."""
    factory = _OVERRIDES.get(name)
    if factory is None:
        from forge.plugins import get_plugins

        entry = get_plugins().search_backends().get(name)
        if entry is None:
            raise ConfigError(
                f"unknown search backend {name!r}; set AUTOGPT_SEARCH_BACKEND to one of: "
                + ", ".join(search_backend_names())
            )
        factory = entry.obj
    if settings is None:
        from forge.config import Settings

        settings = Settings()
    return factory(settings)


def format_results(query: str, results: list[SearchResult]) -> str:
    if not results:
        return f"no results for {query!r}; try other words"
    lines = []
    for i, r in enumerate(results, 1):
        lines.append(f"{i}. {r.title}\n   {r.url}")
        snippet = " ".join(r.snippet.split())
        if len(snippet) > MAX_SNIPPET_CHARS:
            snippet = snippet[: MAX_SNIPPET_CHARS - 3] + "..."
        if snippet:
            lines.append(f"   {snippet}")
    return "\n".join(lines)


# Pages ---------------------------------------------------------------------------------------
@dataclass
class Link:
    text: str
    url: str


@dataclass
class WebPage:
    url: str
    title: str
    text: str
    links: list[Link] = field(default_factory=list)
    via: str = "browser"  # or "http"
    note: str | None = None  # why the browser was not used


def check_url(url: str) -> str:
    """Only http(s) URLs with a host: no file://, data:, javascript:, chrome://, ..."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ToolError(f"only http:// and https:// URLs can be read, not {url[:80]!r}")
    return url


def fetch_page(url: str, settings: Settings) -> WebPage:
    """Render `url` in Chromium, or fetch it over plain HTTP when the browser is unavailable.

    Both paths reach only public addresses and what AUTOGPT_WEB_ALLOWLIST names (forge.security)."""
    url = check_url(url)
    note: str | None
    if Path(settings.browser_path).is_file():
        from forge.tools.browser import browser_fetch

        try:
            html, final_url = browser_fetch(url, settings)
            return _to_page(html, final_url, via="browser")
        except ToolError:
            raise  # the page's own problem (refused, HTTP error, unreachable): plain HTTP would fail too
        except Exception as e:  # the browser's: not installed properly, sandbox, launch, crash
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            note = f"browser failed: {_short(first_line, 100)}"
    else:
        note = f"no browser at {settings.browser_path}"
    html, final_url = _http_fetch(url, settings)
    page = _to_page(html, final_url, via="http")
    page.note = note
    return page


def _http_fetch(url: str, settings: Settings) -> tuple[str, str]:
    import httpx

    from forge.security.guarded_http import guarded_client

    try:
        headers = {"User-Agent": USER_AGENT}
        with (
            guarded_client(settings.web_allowlist, follow_redirects=True, max_redirects=10,
                           timeout=settings.web_timeout, headers=headers) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise ToolError(f"HTTP {response.status_code} {response.reason_phrase} for {url}")
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype and not (ctype.startswith("text/") or ctype in (*_HTML_TYPES, "application/json")):
                raise ToolError(f"{url} is {ctype}, not a web page; read_webpage reads HTML and text")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_DOWNLOAD_BYTES:
                    break
            encoding = response.encoding or "utf-8"
            text = bytes(body).decode(encoding, "replace")
            if ctype and ctype not in _HTML_TYPES:
                text = f"<html><body><pre>{_escape(text)}</pre></body></html>"
            return text, str(response.url)
    except httpx.InvalidURL as e:
        raise ToolError(f"invalid URL {url[:80]!r}: {_short(e)}") from None
    except httpx.HTTPError as e:
        raise ToolError(f"could not fetch {url}: {_short(e)}") from None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _to_page(html: str, url: str, via: str) -> WebPage:
    import lxml.etree
    import lxml.html
    import trafilatura

    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)  # lxml refuses str input with an encoding declaration
    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):  # empty or only comments
        return WebPage(url=url, title="", text="", via=via)
    title = " ".join((doc.findtext(".//title") or "").split())
    links: list[Link] = []
    seen: set[str] = set()
    for a in doc.iter("a"):
        href = a.get("href")
        if not href:
            continue
        target = urljoin(url, href.strip()).split("#")[0]
        if urlsplit(target).scheme not in ("http", "https") or target in seen:
            continue
        seen.add(target)
        links.append(Link(text=" ".join(a.text_content().split())[:80], url=target))
    text = trafilatura.extract(html, url=url, favor_recall=True, include_comments=False, include_tables=True)
    if not text:
        for bad in doc.xpath("//script|//style|//noscript|//template"):
            bad.drop_tree()
        body = doc.find("body")
        raw = (body if body is not None else doc).text_content()
        text = "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
    return WebPage(url=url, title=title, text=text, links=links, via=via)


# Answering a question from a page --------------------------------------------------------------
_STOPWORDS = frozenset(
    "a an and are as at be by does did do for from has have how i in is it its of on or that the this "
    "to was were what when where which who why will with you your about into than then there these "
    "they can could should would page site".split()
)


def _terms(text: str) -> set[str]:
    words = re.findall(r"[^\W_]+", text.lower())
    return {w.rstrip("s") if len(w) > 3 else w for w in words if w not in _STOPWORDS and len(w) > 1}


def relevant_paragraphs(text: str, question: str, limit: int = MAX_ANSWER_PARAGRAPHS) -> list[str]:
    """The paragraphs sharing the most words with `question`, in page order.

    Simple keyword overlap (lower-cased words, stop words dropped, a trailing 's' ignored), each
    shared word weighted by its rarity on the page so that a word found in every paragraph counts
    little; paragraphs scoring under half the best are dropped. No embeddings and no model call:
    fast and offline, but blind to synonyms.
    """
    wanted = _terms(question)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    terms = [wanted & _terms(p) for p in paragraphs]
    df = Counter(t for found in terms for t in found)
    weight = {t: math.log(1 + len(paragraphs) / n) for t, n in df.items()}
    scores = [sum(weight[t] for t in found) for found in terms]
    top = max(scores, default=0.0)
    if top <= 0:
        return []
    ranked = sorted((i for i, s in enumerate(scores) if s >= top / 2), key=lambda i: (-scores[i], i))
    return [paragraphs[i] for i in sorted(ranked[:limit])]


def format_page(page: WebPage, question: str | None = None, budget: int = MAX_TEXT_CHARS) -> str:
    """Title, URL, text and links within `budget` characters (links get at most a quarter)."""
    head = [f"Title: {page.title or '(none)'}", f"URL: {page.url}"]
    if page.note:
        head.append(f"(read over plain HTTP without JavaScript: {page.note})")
    text = page.text
    if question:
        found = relevant_paragraphs(text, question)
        if found:
            head.append(f"Paragraphs most relevant to {question!r}:")
            text = "\n\n".join(found)
        else:
            head.append(f"No paragraph mentions the words of {question!r}; the page starts with:")
    links: list[str] = []
    for link in page.links[:MAX_LINKS]:
        line = f"- {link.text or '(no text)'}: {link.url}"
        if sum(len(x) + 1 for x in links) + len(line) > budget // 4:
            break
        links.append(line)
    if len(page.links) > len(links):
        links.append(f"- ... {len(page.links) - len(links)} more links")
    room = budget - sum(len(x) + 1 for x in [*head, *links]) - 120
    max_chars = min(max(room, 300), MAX_TEXT_CHARS)
    if len(text) > max_chars:
        hint = "" if question else "; pass a question to get the relevant parts"
        text = text[:max_chars] + f"\n[... page text cut at {max_chars} characters{hint}]"
    body = [*head, "", text or "(no readable text on this page)"]
    if page.links:
        body += ["", "Links:", *links]
    return "\n".join(body)


def read_webpage(url: str, settings: Settings, question: str | None = None) -> str:
    """Read `url` and return its title, text (or the paragraphs relevant to `question`) and links."""
    budget = getattr(settings, "max_observation_chars", None) or MAX_TEXT_CHARS
    return format_page(fetch_page(url, settings), question, budget)
