"""Built-in web search backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forge.plugins import hookimpl


@hookimpl
def register_search_backends(register: Callable[..., Any]) -> None:
    from forge.tools.web import DDGSBackend, SearxngBackend

    register("ddgs", lambda settings: DDGSBackend(timeout=settings.web_timeout), description="DuckDuckGo & co via ddgs")
    register(
        "searxng",
        lambda settings: SearxngBackend(settings.searx_url, timeout=settings.web_timeout),
        description="a SearXNG instance (AUTOGPT_SEARX_URL)",
    )
