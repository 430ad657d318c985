"""Network blocks: web search, page scraping and raw HTTP requests."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any, Literal

from pydantic import Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, EmptyModel, Preview
from forge.blocks.communication import redact_headers
from forge.errors import ToolError
from forge.tools import web

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_ERROR_BODY_CHARS = 500


def _short(error: object, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WebSearch(Block):
    id = "web_search"
    name = "Web search"
    description = "Search the web with the configured backend (AUTOGPT_SEARCH_BACKEND, ddgs by default)."
    categories = (BlockCategory.NETWORK,)
    cacheable = False  # fresh data
    effect = Effect.READ

    class Input(EmptyModel):
        query: str = Field(min_length=1, description="What to search for.")
        max_results: int = Field(5, ge=1, le=20, description="How many results, 1-20.")

    class Output(EmptyModel):
        results: list[dict[str, str]] = Field(description="Results as {title, url, snippet}.")
        urls: list[str] = Field(description="Just the result URLs, in rank order.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        backend = web.get_search_backend(ctx.settings.search_backend, ctx.settings)
        found = (await asyncio.to_thread(backend.search, input.query, input.max_results))[: input.max_results]
        yield "results", [{"title": r.title, "url": r.url, "snippet": r.snippet} for r in found]
        yield "urls", [r.url for r in found]


def _urls(value: str | list[Any]) -> list[str]:
    """A URL, a list of URLs, or a list of search results (their `url`) -> URLs, deduplicated."""
    items = [value] if isinstance(value, str) else value
    urls: list[str] = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not url.strip():
            raise ToolError(f"cannot scrape {item!r}: give URLs or search results with a 'url'")
        urls.append(url.strip())
    return list(dict.fromkeys(urls))


class WebScrape(Block):
    id = "web_scrape"
    name = "Scrape web pages"
    description = (
        "Read web pages (headless Chromium, plain HTTP when no browser) and return their main text. "
        "Takes a URL, a list of URLs, or web_search results. Pages that fail are skipped (listed with "
        "an `error` in `pages`); the block fails only if every page fails."
    )
    categories = (BlockCategory.NETWORK,)
    cacheable = False
    effect = Effect.READ
    main_input = "url"
    main_output = "content"

    class Input(EmptyModel):
        url: str | list[str | dict[str, Any]] = Field(
            description="A URL, a list of URLs, or a list of search results ({title, url, snippet})."
        )
        max_pages: int = Field(5, ge=1, le=50, description="Read at most this many pages.")
        max_content_length: int = Field(web.MAX_TEXT_CHARS, ge=100, description="Characters kept per page.")

    class Output(EmptyModel):
        content: str = Field(description="Every page's title, URL and text, one after the other.")
        pages: list[dict[str, Any]] = Field(description="One {url, title, text} (or {url, error}) per page.")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        pages: list[dict[str, Any]] = []
        for url in _urls(input.url)[: input.max_pages]:
            try:
                page = await asyncio.to_thread(web.fetch_page, url, ctx.settings)
            except ToolError as e:
                pages.append({"url": url, "title": "", "text": "", "error": str(e)})
                continue
            text = page.text
            if len(text) > input.max_content_length:
                text = text[: input.max_content_length] + "\n[... cut]"
            pages.append({"url": page.url, "title": page.title, "text": text})
        if pages and all("error" in p for p in pages):
            raise ToolError("; ".join(dict.fromkeys(p["error"] for p in pages)))  # often one cause for all
        content = "\n\n".join(
            f"# {p['title'] or p['url']}\nURL: {p['url']}\n\n{p['text']}" for p in pages if "error" not in p
        )
        yield "content", content
        yield "pages", pages


class HTTPRequest(Block):
    id = "http_request"
    name = "HTTP request"
    description = (
        "Send an HTTP request. On 2xx emits status, headers, text and (when the body is JSON) json. "
        "On any other status emits status, headers and `error` (status line and the start of the "
        "body) instead of text/json, so downstream nodes never mistake an error page for data; "
        "connection failures fail the node."
    )
    categories = (BlockCategory.NETWORK,)
    cacheable = False  # requests may have side effects, and answers change
    main_input = "url"
    main_output = "text"

    class Input(EmptyModel):
        url: str = Field(description="http(s) URL.")
        method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field("GET")
        headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
        params: dict[str, Any] = Field(default_factory=dict, description="Query-string parameters.")
        json_body: Any = Field(None, description="Body sent as JSON (sets Content-Type).")
        body: str | None = Field(None, description="Raw text body (instead of json_body).")
        timeout: float = Field(20.0, gt=0, le=600, description="Seconds before giving up.")

    # `json` is the port's name (a contract); as a field it shadows BaseModel.json, which is
    # deprecated and unused here, so pydantic's warning about it is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message='Field name "json"', category=UserWarning)

        class Output(EmptyModel):
            status: int = Field(description="HTTP status code.")
            headers: dict[str, str] = Field(description="Response headers (lower-case names).")
            text: str = Field(description="Response body as text (2xx only).")
            json: Any = Field(description="Parsed body, when it is JSON (2xx only).")  # type: ignore[assignment]
            error: str = Field(description="Status line and body start, for non-2xx responses.")

    @classmethod
    def effect_for(cls, input: Input | None) -> Effect:  # type: ignore[override]  # noqa: A002
        if input is not None and input.method in ("GET", "HEAD", "OPTIONS"):
            return Effect.READ
        return Effect.WRITE

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        import httpx

        url = str(httpx.URL(input.url).copy_merge_params(input.params)) if input.params else input.url
        payload: dict[str, Any] = {"headers": redact_headers(input.headers)} if input.headers else {}
        if input.json_body is not None:
            payload["json"] = input.json_body
        if input.body is not None:
            payload["body"] = input.body
        return Preview(action=input.method, destination=url, payload=payload or None)

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        import httpx

        from forge.security.guarded_http import guarded_async_client

        if input.json_body is not None and input.body is not None:
            raise ToolError("give json_body or body, not both")
        url = web.check_url(input.url)
        try:
            # Only public addresses and AUTOGPT_WEB_ALLOWLIST, checked on every redirect hop.
            async with (
                guarded_async_client(
                    ctx.settings.web_allowlist, follow_redirects=True, max_redirects=10, timeout=input.timeout
                ) as client,
                client.stream(
                    input.method,
                    url,
                    headers=input.headers,
                    # merged into the URL's own query string (httpx's params= would replace it)
                    params=httpx.URL(url).copy_merge_params(input.params).params,
                    json=input.json_body,
                    content=input.body,
                ) as response,
            ):
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        raise ToolError(f"response from {url} is larger than {MAX_RESPONSE_BYTES} bytes")
                text = bytes(data).decode(response.encoding or "utf-8", "replace")
        except httpx.InvalidURL as e:
            raise ToolError(f"invalid URL {url[:80]!r}: {_short(e)}") from None
        except httpx.HTTPError as e:
            raise ToolError(f"{input.method} {url} failed: {_short(e)}") from None
        yield "status", response.status_code
        yield "headers", {k.lower(): v for k, v in response.headers.items()}
        if not response.is_success:
            body = text[:MAX_ERROR_BODY_CHARS]
            yield "error", f"HTTP {response.status_code} {response.reason_phrase}" + (f": {body}" if body else "")
            return
        yield "text", text
        try:
            yield "json", json.loads(text)
        except ValueError:
            pass
