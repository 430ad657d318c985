"""Headless Chromium for reading pages: sandboxed, and every request it makes goes through the SSRF guard.

Isolation (AUTOGPT_SANDBOX=bwrap, the default): Playwright starts a generated wrapper script that
runs Chromium inside bubblewrap as uid 65534 (the real host uid when we are root, through
`setpriv`), with read-only /usr and a few /etc files, a private tmpfs /tmp, the profile folder as
the only writable host path, and its own empty network namespace. Chromium keeps its own sandbox
(namespaces + seccomp) inside. Playwright talks to it over inherited pipes, so it needs no network.
With AUTOGPT_SANDBOX=none it runs unwrapped (and as root only with --no-sandbox).

Traffic: the page cannot reach anything itself. Every request it makes is intercepted
(`context.route`), fetched by our guarded httpx client (forge.security.guarded_http) and fulfilled
with the answer; images, media and fonts are refused (only text is read). Redirects are never
handed to Chromium: it follows a fulfilled 3xx without intercepting the next hop. So a main-frame
redirect is aborted and navigated to again (a new, intercepted request), and a subresource's
redirects are followed by the guarded client, each hop checked. As a safety net for what routing
cannot see (WebSockets, prefetches), Chromium's proxy is a closed 127.0.0.1 port with loopback not
bypassed, host resolution is disabled and WebRTC may not use UDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import socket
import stat
import tempfile
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from forge.errors import ConfigError, PolicyViolationError, ToolError
from forge.security.secrets import clean_env
from forge.tools.sandbox import root_entries
from forge.tools.web import USER_AGENT

if TYPE_CHECKING:
    import httpx
    from playwright.async_api import Page, Request, Route, WebSocketRoute

    from forge.config import Settings

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]
SKIPPED_RESOURCES = frozenset({"image", "media", "font"})
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 10
SETTLE_MS = 2000  # after DOMContentLoaded, how long to give scripts to render before reading
SANDBOX_UID = 65534
SETPRIV = "/usr/bin/setpriv"
BWRAP_FALLBACK = "/usr/bin/bwrap"  # when PATH is minimal (services, cron)
# What Chromium needs from /etc (fonts, its Debian launcher's settings) besides what programs need to start.
ETC_PATHS = (
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/mime.types", "/etc/fonts", "/etc/chromium",
    "/etc/chromium.d", "/var/cache/fontconfig",
)
_HOP_HEADERS = frozenset({
    "host", "connection", "keep-alive", "content-length", "transfer-encoding", "content-encoding",
    "proxy-connection", "upgrade", "te", "trailer",
})


class BrowserUnavailable(Exception):
    """The browser cannot be started here; the caller reads the page over plain HTTP instead."""


# Launching -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchPlan:
    executable: str
    args: list[str]
    chromium_sandbox: bool  # False adds --no-sandbox
    env: dict[str, str]
    profile: Path


def safety_net_args(closed_port: int) -> list[str]:
    """Flags that send whatever escapes request routing to a closed loopback port, or nowhere."""
    return [
        f"--proxy-server=http://127.0.0.1:{closed_port}",
        "--proxy-bypass-list=<-loopback>",  # Chromium bypasses proxies for loopback unless told not to
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ]


def launch_plan(settings: Settings, workdir: Path, closed_port: int) -> LaunchPlan:
    """How to start the browser under `settings.sandbox`; `workdir` is an empty private folder."""
    args = [*CHROMIUM_ARGS, *safety_net_args(closed_port)]
    data = workdir / "data"  # the only host folder the browser may write: profile and home
    profile, home = data / "profile", data / "home"
    profile.mkdir(parents=True)
    home.mkdir()
    if settings.sandbox == "none":
        env = {**clean_env(), "HOME": str(home)}
        # Chromium refuses to start its own sandbox as root.
        return LaunchPlan(settings.browser_path, args, os.geteuid() != 0, env, profile)
    if settings.sandbox != "bwrap":
        raise ConfigError(f"unknown sandbox {settings.sandbox!r}; set AUTOGPT_SANDBOX to 'bwrap' or 'none'")
    bwrap = _find_bwrap()
    if bwrap is None:
        raise BrowserUnavailable(
            "bubblewrap is not installed to sandbox it (apt-get install bubblewrap, or AUTOGPT_SANDBOX=none)"
        )
    as_root = os.geteuid() == 0
    workdir.chmod(0o711)  # uid 65534 must reach data/ inside it, and nothing else
    if as_root:
        for path in (data, profile, home):
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
    wrapper = workdir / "chromium-sandboxed"
    wrapper.write_text(wrapper_script(bwrap, settings.browser_path, data, drop_root=as_root))
    wrapper.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return LaunchPlan(str(wrapper), args, True, clean_env(), profile)


def _find_bwrap() -> str | None:
    return shutil.which("bwrap") or (BWRAP_FALLBACK if os.path.exists(BWRAP_FALLBACK) else None)


def wrapper_script(bwrap: str, browser: str, data: Path, drop_root: bool) -> str:
    """A shell script Playwright can start as "the browser": it execs Chromium inside bubblewrap.

    The pipes Playwright talks over (fds 3 and 4) are inherited through setpriv and bwrap."""
    prefix: list[str] = []
    if drop_root and os.path.exists(SETPRIV):
        # Really uid 65534 on the host, not root mapped to 65534 in a user namespace.
        prefix = [SETPRIV, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups", "--"]
    argv = [
        *prefix, bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--clearenv",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr", *root_entries(),
    ]
    for path in ETC_PATHS:
        argv += ["--ro-bind-try", path, path]
    real = os.path.realpath(browser)
    for folder in {os.path.dirname(browser), os.path.dirname(real)}:
        if not folder.startswith("/usr/"):
            argv += ["--ro-bind-try", folder, folder]
    argv += [
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(512 * 1024 * 1024), "--tmpfs", "/tmp",
        "--size", str(64 * 1024 * 1024), "--tmpfs", "/dev/shm",
        "--bind", str(data), str(data),
        "--remount-ro", "/",
        "--setenv", "HOME", str(data / "home"), "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "LANG", "C.UTF-8", "--setenv", "TMPDIR", "/tmp",
        "--setenv", "DBUS_SESSION_BUS_ADDRESS", "disabled:",
        browser,
    ]
    return "#!/bin/sh\n# Generated by forge.tools.browser: Chromium in bubblewrap.\nexec " + " ".join(
        shlex.quote(a) for a in argv
    ) + ' "$@"\n'


def browser_workdir() -> tempfile.TemporaryDirectory[str]:
    """A private folder for one browser run, somewhere uid 65534 can reach (TMPDIR may be a
    folder only we can enter; then /tmp)."""
    base = tempfile.gettempdir()
    if not _reachable_by_others(Path(base)):
        base = "/tmp"
    return tempfile.TemporaryDirectory(prefix="autogpt-browser-", dir=base)


def _reachable_by_others(folder: Path) -> bool:
    try:
        return all(os.stat(p).st_mode & stat.S_IXOTH for p in [folder.resolve(), *folder.resolve().parents])
    except OSError:
        return False


class _ClosedPort:
    """A loopback port that refuses connections for as long as we hold it (bound, never listening)."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# Routing ---------------------------------------------------------------------------------------
@dataclass
class _Navigation:
    """What the route handler learnt about the current main-frame navigation."""

    redirect: str | None = None
    blocked: str | None = None
    failed: str | None = None


class Router:
    """Fulfils every request of the browser through the guarded client."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client
        self.page: Page | None = None  # the tab being read: its main-frame navigations are tracked
        self.nav = _Navigation()
        self.blocked: list[str] = []  # refusals of the guard, for tests and diagnostics

    async def handle(self, route: Route, request: Request) -> None:
        from playwright.async_api import Error as PlaywrightError

        try:
            await self._handle(route, request)
        except PlaywrightError:
            pass  # the tab or browser closed while we fetched: nothing is waiting for the answer

    async def _handle(self, route: Route, request: Request) -> None:
        import httpx

        if request.resource_type in SKIPPED_RESOURCES:
            await route.abort("blockedbyclient")
            return
        main = self.page is not None and _is_main_navigation(request, self.page)
        try:
            response, body = await self._fetch(request, follow_redirects=not main)
        except PolicyViolationError as e:
            self.blocked.append(str(e))
            if main:
                self.nav.blocked = str(e)
            await route.abort("blockedbyclient")
            return
        except (httpx.HTTPError, ToolError) as e:
            if main:
                self.nav.failed = f"could not fetch {request.url}: {_short(e)}"
            await route.abort("failed")
            return
        location = response.headers.get("location")
        if main and response.is_redirect and location:
            self.nav.redirect = urljoin(request.url, location)
            await route.abort("aborted")  # BrowserSession.read navigates there: a new, routed request
            return
        await route.fulfill(status=response.status_code, headers=_response_headers(response), body=body)

    async def _fetch(self, request: Request, follow_redirects: bool) -> tuple[httpx.Response, bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        outgoing = self.client.build_request(
            request.method, request.url, headers=headers, content=request.post_data_buffer
        )
        response = await self.client.send(outgoing, stream=True, follow_redirects=follow_redirects)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= MAX_BODY_BYTES:
                    break
        finally:
            await response.aclose()
        return response, bytes(body[:MAX_BODY_BYTES])


def _is_main_navigation(request: Request, page: Page) -> bool:
    try:
        return request.is_navigation_request() and request.frame == page.main_frame
    except Exception:  # service-worker requests have no frame
        return False


def _response_headers(response: httpx.Response) -> dict[str, str]:
    """Headers for route.fulfill: the body is already decoded, one value per name (Playwright
    splits Set-Cookie on newlines), and never a Location: Chromium would follow it unrouted."""
    merged: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        if name.lower() not in _HOP_HEADERS and name.lower() != "location":
            merged.setdefault(name.lower(), []).append(value)
    return {k: ("\n" if k == "set-cookie" else ", ").join(v) for k, v in merged.items()}


async def _refuse_websocket(ws: WebSocketRoute) -> None:
    await ws.close(code=1008, reason="WebSockets are not available to read_webpage")


def _short(error: object, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Reading a page --------------------------------------------------------------------------------
def browser_fetch(url: str, settings: Settings) -> tuple[str, str]:
    """The rendered HTML of `url` and its final URL.

    ToolError for the page's own problems (refused, HTTP error, unreachable); BrowserUnavailable or
    any other exception when the browser itself could not do it."""

    async def read() -> tuple[str, str]:
        async with BrowserSession(settings) as session:
            return await session.read(url)

    return _run(read())


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, in a worker thread when this thread already runs an event loop (the agent's)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser") as pool:
        return pool.submit(asyncio.run, coro).result()


class BrowserSession:
    """One sandboxed, routed browser; `read` pages one after the other, each in a fresh tab."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.timeout_ms = settings.web_timeout * 1000
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> BrowserSession:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        from forge.security.guarded_http import guarded_async_client

        settings = self.settings
        workdir = self._stack.enter_context(browser_workdir())
        closed_port = self._stack.enter_context(_ClosedPort())
        plan = launch_plan(settings, Path(workdir), closed_port)
        client = await self._stack.enter_async_context(
            guarded_async_client(settings.web_allowlist, timeout=settings.web_timeout, max_redirects=MAX_REDIRECTS)
        )
        pw = await self._stack.enter_async_context(async_playwright())
        self.context = await pw.chromium.launch_persistent_context(
            str(plan.profile),
            executable_path=plan.executable,
            args=plan.args,
            env=dict(plan.env),
            chromium_sandbox=plan.chromium_sandbox,
            headless=True,
            timeout=self.timeout_ms,
            user_agent=USER_AGENT,
            accept_downloads=False,
            service_workers="block",
        )
        self._stack.push_async_callback(self.context.close)
        self._first_tab: Page | None = self.context.pages[0] if self.context.pages else None
        self.router = Router(client)
        await self.context.route("**/*", self.router.handle)
        await self.context.route_web_socket("**/*", _refuse_websocket)

    async def read(self, url: str) -> tuple[str, str]:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        # The persistent context opens with one blank tab: the first read uses it (~0.3 s saved).
        fresh = self._first_tab or await self.context.new_page()
        self._first_tab = None
        page = self.router.page = fresh
        try:
            target = url
            for _ in range(MAX_REDIRECTS + 1):
                self.router.nav = nav = _Navigation()
                try:
                    response = await page.goto(target, timeout=self.timeout_ms, wait_until="domcontentloaded")
                except PlaywrightError:
                    if nav.redirect:
                        target = nav.redirect
                        if urlsplit(target).scheme.lower() not in ("http", "https"):
                            raise ToolError(f"{url} redirects to {target[:80]!r}, which is not http(s)") from None
                        continue
                    if nav.blocked:
                        raise PolicyViolationError(nav.blocked) from None
                    if nav.failed:
                        raise ToolError(nav.failed) from None
                    raise
                break
            else:
                raise ToolError(f"{url} redirected more than {MAX_REDIRECTS} times")
            if response is not None and response.status >= 400:
                raise ToolError(f"HTTP {response.status} {response.status_text} for {page.url}".strip())
            try:
                await page.wait_for_load_state("networkidle", timeout=min(SETTLE_MS, self.timeout_ms))
            except PlaywrightTimeout:
                pass  # pages that keep polling never go idle; read what is there
            return await page.content(), page.url
        finally:
            await page.close()
