"""SSRF protection of read_webpage (browser and plain-HTTP paths), web_scrape and http_request.

Every attack aims at a real "secret" server on a loopback port that is NOT allowlisted, so a hole
shows as a request it receives. Addresses off loopback are never reached: conftest.py makes any
such connect raise, and the `net` fixture records each attempt so a test can tell "refused by the
guard" (no attempt) from "failed to connect". Invented names resolve through a fake resolver;
anything else resolves only if it is numeric (no DNS query leaves the machine).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from forge.blocks.adapters import run_block
from forge.blocks.base import BlockContext
from forge.blocks.credentials import CredentialStore
from forge.blocks.web import HTTPRequest, WebScrape
from forge.config import Settings, split_list_setting
from forge.errors import ConfigError, PolicyViolationError, ToolError
from forge.security.guarded_http import guarded_client
from forge.security.netguard import Allowlist, address_problem
from forge.tools import browser as browser_mod
from forge.tools import builtin
from forge.tools.base import ToolContext

CHROMIUM = "/usr/bin/chromium"
needs_browser = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="chromium is not installed")
needs_bwrap = pytest.mark.skipif(browser_mod._find_bwrap() is None, reason="bubblewrap is not installed")
PUBLIC_IP = "93.184.216.34"  # what the fake resolver calls public; never actually reached


# Fixtures ----------------------------------------------------------------------------------------
@dataclass
class Net:
    """The fake resolver's answers and every connect to a non-loopback address that was tried."""

    names: dict[str, list[list[str]]] = field(default_factory=dict)  # name -> answers, one per lookup
    lookups: list[str] = field(default_factory=list)
    off_loopback: list[Any] = field(default_factory=list)


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Net:
    state = Net(names={
        "loopy.example": [["127.0.0.1"]],
        "intranet.example": [["10.1.2.3"]],
        "mixed.example": [[PUBLIC_IP, "10.0.0.5"]],
        "metadata.google.internal": [["169.254.169.254"]],
    })
    real_getaddrinfo = socket.getaddrinfo
    guarded_connect = socket.socket.connect  # conftest's: raises for anything off loopback

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        state.lookups.append(name)
        answers = state.names.get(name)
        if answers is not None:
            ips = answers.pop(0) if len(answers) > 1 else answers[0]
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 0)))
                for ip in ips
            ]
        if name.lower().rstrip(".") == "localhost":
            return real_getaddrinfo("localhost", port, *args, **kwargs)
        family, type_, proto, flags = (list(args) + [0, 0, 0, 0])[:4]
        return real_getaddrinfo(  # numbers only: no DNS query
            host, port, kwargs.get("family", family), kwargs.get("type", type_), kwargs.get("proto", proto),
            kwargs.get("flags", flags) | socket.AI_NUMERICHOST,
        )

    def recording_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and str(address[0]) not in ("127.0.0.1", "::1"):
            state.off_loopback.append(address[:2])
        return guarded_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return state


def _handler(hits: list[str], probe: Callable[[], dict[str, Any]] | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            hits.append(self.path)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if parts.path == "/attack.html":
                body = ATTACK_PAGE.replace("SECRET", query["secret"]).encode()
            elif parts.path == "/probe" and probe is not None:
                import json

                body = json.dumps(probe()).encode()
            else:
                body = b"<html><head><title>Page</title></head><body><p>Page text: otters hold hands.</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if parts.path == "/probe" else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@dataclass
class Servers:
    allowed: str  # base URL of the allowlisted fixture (127.0.0.1:A)
    allowed_port: int
    secret_port: int  # the target: 127.0.0.1 and ::1, never allowlisted
    secret_hits: list[str]
    allowed_hits: list[str]
    probes: list[dict[str, Any]]

    @property
    def allowlist(self) -> list[str]:
        return [f"127.0.0.1:{self.allowed_port}"]


def _serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def servers() -> Iterator[Servers]:
    secret_hits: list[str] = []
    allowed_hits: list[str] = []
    probes: list[dict[str, Any]] = []
    started: list[ThreadingHTTPServer] = []
    secret = ThreadingHTTPServer(("127.0.0.1", 0), _handler(secret_hits))
    started.append(secret)
    port = secret.server_address[1]
    try:  # the same port on ::1, so [::1] attacks have a target too
        started.append(_V6Server(("::1", port), _handler(secret_hits)))
    except OSError:
        pass
    allowed = ThreadingHTTPServer(("127.0.0.1", 0), _handler(allowed_hits, lambda: probes.append(_probe()) or {}))
    started.append(allowed)
    for server in started:
        _serve(server)
    try:
        yield Servers(f"http://127.0.0.1:{allowed.server_address[1]}", allowed.server_address[1], port,
                      secret_hits, allowed_hits, probes)
    finally:
        for server in started:
            server.shutdown()
            server.server_close()


# The four ways a URL is fetched ----------------------------------------------------------------
def _settings(tmp_path: Path, allow: list[str], browser: bool, **extra: Any) -> Settings:
    return Settings(
        _env_file=None, workspace=tmp_path / "ws", web_allowlist=allow, web_timeout=10,
        browser_path=CHROMIUM if browser else str(tmp_path / "no-browser"), **extra,
    )


def read_browser(tmp_path: Path, url: str, allow: list[str]) -> str:
    settings = _settings(tmp_path, allow, browser=True)
    return builtin.read_webpage(ToolContext(workspace=tmp_path / "ws", settings=settings), {"url": url})


def read_http(tmp_path: Path, url: str, allow: list[str]) -> str:
    settings = _settings(tmp_path, allow, browser=False)
    return builtin.read_webpage(ToolContext(workspace=tmp_path / "ws", settings=settings), {"url": url})


def _block_ctx(tmp_path: Path, allow: list[str]) -> BlockContext:
    return BlockContext(workspace=tmp_path / "files", settings=_settings(tmp_path, allow, browser=False),
                        credentials=CredentialStore(None, {}))


def scrape(tmp_path: Path, url: str, allow: list[str]) -> str:
    out = dict(asyncio.run(run_block(WebScrape, {"url": url}, _block_ctx(tmp_path, allow))))
    return str(out["content"])


def http_request(tmp_path: Path, url: str, allow: list[str]) -> str:
    out = dict(asyncio.run(run_block(HTTPRequest, {"url": url, "timeout": 10}, _block_ctx(tmp_path, allow))))
    return str(out.get("text", out.get("error")))


# Each attack runs through every path. The browser launches once per family of attacks
# (test_browser_refuses_every_attack); read_webpage's one-shot browser path runs the cases that
# need a fresh browser (rebinding, allowed redirects) and a sample.
HTTP_FETCHERS = [
    pytest.param(read_http, id="read_webpage-http"),
    pytest.param(scrape, id="web_scrape"),
    pytest.param(http_request, id="http_request"),
]
ALL_FETCHERS = [pytest.param(read_browser, marks=needs_browser, id="read_webpage-browser"), *HTTP_FETCHERS]

# Loopback in every spelling, each aimed at the secret server's port.
LOOPBACK_URLS = [
    "http://127.0.0.1:{p}/", "http://127.1:{p}/", "http://2130706433:{p}/", "http://0x7f000001:{p}/",
    "http://0177.0.0.1:{p}/", "http://0.0.0.0:{p}/", "http://[::1]:{p}/", "http://[::ffff:127.0.0.1]:{p}/",
    "http://[::ffff:7f00:1]:{p}/", "http://localhost:{p}/", "http://LOCALHOST.:{p}/",
    "http://loopy.example:{p}/",  # a name that resolves to 127.0.0.1
]
# Off-loopback targets: refused before any connect.
PRIVATE_URLS = [
    "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/", "http://[fe80::1]/", "http://[fec0::1]/",
    "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
    "http://224.0.0.1/", "http://240.0.0.1/", "http://[ff02::1]/",
    "http://intranet.example/",  # resolves to 10.1.2.3
    "http://mixed.example/",  # resolves to a public and a private address: any private one refuses
    "http://metadata.google.internal/computeMetadata/v1/",  # refused by name, never even looked up
]


def _attempt(fetch: Callable[..., str], tmp_path: Path, url: str, allow: list[str]) -> str:
    with pytest.raises(ToolError) as info:
        fetch(tmp_path, url, allow)
    return str(info.value)


@pytest.mark.parametrize("fetch", HTTP_FETCHERS)
@pytest.mark.parametrize("template", LOOPBACK_URLS)
def test_loopback_in_every_spelling_is_refused(fetch, template, tmp_path, net, servers) -> None:
    message = _attempt(fetch, tmp_path, template.format(p=servers.secret_port), servers.allowlist)
    if "0177." in template and fetch is not read_browser:
        assert "invalid URL" in message  # httpx rejects the octal spelling before connecting
    else:
        assert message.count("\n") == 0 and "refused" in message and "AUTOGPT_WEB_ALLOWLIST" in message, message
    assert servers.secret_hits == [] and net.off_loopback == []


@pytest.mark.parametrize("fetch", HTTP_FETCHERS)
@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_link_local_and_metadata_are_refused_without_connecting(fetch, url, tmp_path, net, servers) -> None:
    message = _attempt(fetch, tmp_path, url, servers.allowlist)
    assert "refused" in message and "AUTOGPT_WEB_ALLOWLIST" in message, message
    assert net.off_loopback == []
    if "metadata.google" in url:
        assert "cloud-metadata" in message and "metadata.google.internal" not in net.lookups


REDIRECT_TARGETS = [
    "http://127.0.0.1:{p}/secret", "http://[::1]:{p}/secret", "http://loopy.example:{p}/secret",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
    "{allowed}/redirect?to=http://127.0.0.1:{p}/two-hops",
]


@pytest.mark.parametrize("fetch", HTTP_FETCHERS)
@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_redirects_from_an_allowed_server_are_checked_on_every_hop(fetch, target, tmp_path, net, servers) -> None:
    to = target.format(p=servers.secret_port, allowed=servers.allowed)
    message = _attempt(fetch, tmp_path, f"{servers.allowed}/redirect?to={to}", servers.allowlist)
    assert "refused" in message and "AUTOGPT_WEB_ALLOWLIST" in message, message
    assert servers.secret_hits == [] and net.off_loopback == []
    assert servers.allowed_hits and servers.allowed_hits[0].startswith("/redirect")  # the first hop was made


@needs_browser
def test_browser_refuses_every_attack(tmp_path, net, servers) -> None:
    """The same attacks as above, through one sandboxed, routed browser (Chromium normalises the
    URL spellings itself; the guard sees what it asks for)."""
    p = servers.secret_port
    urls = [t.format(p=p) for t in LOOPBACK_URLS] + PRIVATE_URLS + [
        f"{servers.allowed}/redirect?to={t.format(p=p, allowed=servers.allowed)}" for t in REDIRECT_TARGETS
    ]
    results = _read_in_one_browser(_settings(tmp_path, servers.allowlist, browser=True), urls)
    held = {url: msg for url, msg in zip(urls, results, strict=True) if "refused" in msg and "ALLOWLIST" in msg}
    assert len(held) == len(urls), {u: r for u, r in zip(urls, results, strict=True) if u not in held}
    assert "cloud-metadata" in held["http://metadata.google.internal/computeMetadata/v1/"]
    assert servers.secret_hits == [] and net.off_loopback == []


def _read_in_one_browser(settings: Settings, urls: list[str]) -> list[str]:
    """Each URL's error message, or READ and the final URL when the browser read it."""

    async def read_all() -> list[str]:
        out = []
        async with browser_mod.BrowserSession(settings) as session:
            for url in urls:
                try:
                    _, final = await session.read(url)
                    out.append(f"READ {final}")
                except ToolError as e:
                    out.append(str(e))
        return out

    return asyncio.run(read_all())


@needs_browser
def test_read_webpage_browser_refuses_loopback(tmp_path, net, servers) -> None:
    message = _attempt(read_browser, tmp_path, f"http://127.1:{servers.secret_port}/", servers.allowlist)
    assert message.startswith(f"web access to 127.0.0.1:{servers.secret_port} refused: 127.0.0.1 is a loopback")
    assert message.endswith(f"add 127.0.0.1:{servers.secret_port} to AUTOGPT_WEB_ALLOWLIST")
    assert servers.secret_hits == []


@pytest.mark.parametrize("fetch", ALL_FETCHERS)
def test_redirect_between_allowed_pages_is_followed(fetch, tmp_path, net, servers) -> None:
    out = fetch(tmp_path, f"{servers.allowed}/redirect?to={servers.allowed}/page", servers.allowlist)
    assert "otters hold hands" in out
    assert [h.split("?")[0] for h in servers.allowed_hits] == ["/redirect", "/page"]


@pytest.mark.parametrize("fetch", ALL_FETCHERS)
def test_dns_rebinding_connects_to_the_checked_address(fetch, tmp_path, net, servers) -> None:
    """The resolver answers a public address first and loopback afterwards: the one connection
    goes to the public address that was checked (refused by conftest), never to the secret server."""
    net.names["rebind.example"] = [[PUBLIC_IP]] + [["127.0.0.1"]] * 10
    message = _attempt(fetch, tmp_path, f"http://rebind.example:{servers.secret_port}/", servers.allowlist)
    assert "refused" not in message  # the guard let the public address through
    assert net.off_loopback == [(PUBLIC_IP, servers.secret_port)]
    assert net.lookups.count("rebind.example") == 1
    assert servers.secret_hits == []


# The allowlist ---------------------------------------------------------------------------------
def _get(url: str, allow: list[str]) -> int:
    with guarded_client(allow, timeout=5) as client:
        return client.get(url).status_code


def test_allowlist_entries_open_exactly_what_they_name(net, servers) -> None:
    a, s = servers.allowed_port, servers.secret_port
    assert _get(f"http://127.0.0.1:{a}/page", [f"127.0.0.1:{a}"]) == 200
    with pytest.raises(PolicyViolationError, match=rf"add 127.0.0.1:{s} to AUTOGPT_WEB_ALLOWLIST"):
        _get(f"http://127.0.0.1:{s}/", [f"127.0.0.1:{a}"])  # another port of the same address
    assert _get(f"http://127.0.0.1:{s}/", ["127.0.0.1"]) == 200  # an address: every port
    assert _get(f"http://127.0.0.1:{s}/", ["127.0.0.0/8"]) == 200  # a network
    assert _get(f"http://localhost:{a}/", [f"localhost:{a}"]) == 200  # a name
    with pytest.raises(PolicyViolationError):
        _get(f"http://127.0.0.1:{a}/", [f"localhost:{a}"])  # a name entry does not open the address
    assert _get(f"http://loopy.example:{s}/", ["*.example"]) == 200  # a wildcard name
    with pytest.raises(PolicyViolationError):
        _get(f"http://127.1:{s}/", ["10.0.0.0/8", "::1"])
    if any(h for h in servers.secret_hits):
        assert all(h == "/" for h in servers.secret_hits)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("93.184.216.34", None), ("8.8.8.8", None), ("2606:4700:4700::1111", None),
        ("2002:5db8:d822::1", None),  # 6to4 of a public address
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"), ("0.0.0.0", "unspecified"),
        ("::", "unspecified"), ("0.1.2.3", "this network"), ("10.9.8.7", "private"), ("172.31.0.1", "private"),
        ("192.168.0.1", "private"), ("100.100.100.100", "CGNAT"), ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"), ("fd00::1", "unique-local"), ("fec0::1", "site-local"),
        ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"), ("198.18.0.1", "benchmarking"), ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"), ("::8.8.8.8", "IPv4-compatible"), ("2002:7f00:1::1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local"), ("64:ff9b:1::a00:1", "private"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo whose client is 127.0.0.1
    ],
)
def test_address_classification(address: str, problem: str | None) -> None:
    import ipaddress

    found = address_problem(ipaddress.ip_address(address))
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_allowlist_setting_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    from autogpt_cli.settings import CliSettings  # the CLI reads the environment; forge never does

    monkeypatch.setenv("AUTOGPT_WEB_ALLOWLIST", "127.0.0.1:8765, localhost ,[::1]:8080")
    assert CliSettings(_env_file=None).web_allowlist == ["127.0.0.1:8765", "localhost", "[::1]:8080"]
    monkeypatch.setenv("AUTOGPT_WEB_ALLOWLIST", '["10.0.0.0/8", "intranet.example:443"]')
    assert CliSettings(_env_file=None).web_allowlist == ["10.0.0.0/8", "intranet.example:443"]
    monkeypatch.delenv("AUTOGPT_WEB_ALLOWLIST")
    assert CliSettings(_env_file=None).web_allowlist == []
    monkeypatch.setenv("AUTOGPT_WEB_ALLOWLIST", "10.0.0.0/8")
    assert Settings().web_allowlist == []
    assert split_list_setting("[::1]") == ["[::1]"]
    parsed = Allowlist.parse(["Example.COM.", "*.corp.example:8443", "[fd00::1]:80", "10.0.0.0/8"])
    assert parsed.allows_name("example.com", 1) and parsed.allows_name("a.corp.example", 8443)
    assert not parsed.allows_name("corp.example", 8443) and not parsed.allows_name("a.corp.example", 443)
    for bad in ["http://x.example", "host:99999", "10.0.0.0/33", "[::1", "a b", "host:"]:
        with pytest.raises(ConfigError, match="AUTOGPT_WEB_ALLOWLIST entry"):
            Allowlist.parse([bad])


def test_a_bad_allowlist_is_a_one_line_cli_error(tmp_path: Path) -> None:
    autogpt = str(Path(sys.executable).parent / "autogpt")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    env["AUTOGPT_WEB_ALLOWLIST"] = "http://127.0.0.1:8765"
    result = subprocess.run([autogpt, "runs", "list"], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "AUTOGPT_WEB_ALLOWLIST" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


# The browser -----------------------------------------------------------------------------------
ATTACK_PAGE = """<!doctype html><html><head><title>Allowed page</title>
<script src="http://127.0.0.1:SECRET/evil.js"></script>
<link rel="stylesheet" href="http://127.0.0.1:SECRET/evil.css">
<link rel="prefetch" href="http://127.0.0.1:SECRET/prefetch">
<link rel="dns-prefetch" href="http://loopy.example:SECRET/">
</head><body><article><h1>Allowed page</h1>
<p>The allowed page renders: herons stand still for hours.</p>
<p id="fetch">fetch pending</p><p id="redirected">redirect pending</p><p id="ws">ws pending</p>
<p id="file">file pending</p><p id="probe">probe pending</p>
</article>
<img src="http://127.0.0.1:SECRET/pixel.png">
<iframe src="http://127.0.0.1:SECRET/frame"></iframe>
<script>
const show = (id, text) => { document.getElementById(id).textContent = id + ': ' + text; };
fetch('http://127.0.0.1:SECRET/api', {mode: 'no-cors'})
  .then(() => show('fetch', 'REACHED'), () => show('fetch', 'blocked'));
fetch('/redirect?to=http://127.0.0.1:SECRET/via-redirect').then(r => r.text())
  .then(() => show('redirected', 'REACHED'), () => show('redirected', 'blocked'));
fetch('file:///etc/passwd').then(r => r.text())
  .then(t => show('file', 'READ ' + t.length), () => show('file', 'blocked'));
try {
  const ws = new WebSocket('ws://127.0.0.1:SECRET/ws');
  ws.onopen = () => show('ws', 'OPEN');
  ws.onerror = () => show('ws', 'blocked');
} catch (e) { show('ws', 'blocked'); }
navigator.sendBeacon('http://127.0.0.1:SECRET/beacon', 'x');
fetch('/probe').then(() => show('probe', 'done'));
</script></body></html>"""


def _probe() -> dict[str, Any]:
    """Called by the allowed server while the page loads: what the Chromium processes are."""
    ours = os.stat("/proc/self/ns/net").st_ino, os.stat("/proc/self/ns/mnt").st_ino
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if "chromium" not in os.readlink(f"/proc/{entry}/exe"):
                continue
            status = Path(f"/proc/{entry}/status").read_text()
            uid = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
            found.append({
                "pid": int(entry), "uids": uid,
                "own_net": os.stat(f"/proc/{entry}/ns/net").st_ino != ours[0],
                "own_mnt": os.stat(f"/proc/{entry}/ns/mnt").st_ino != ours[1],
                "sees_shadow": os.path.exists(f"/proc/{entry}/root/etc/shadow"),
                "sees_root_home": os.path.exists(f"/proc/{entry}/root/root"),
                "sees_workspace": os.path.exists(f"/proc/{entry}/root{Path.cwd()}"),
            })
        except OSError:
            continue  # exited meanwhile
    return {"processes": found}


@needs_browser
@needs_bwrap
def test_browser_page_renders_while_its_requests_to_loopback_are_blocked(tmp_path, net, servers) -> None:
    out = read_browser(tmp_path, f"{servers.allowed}/attack.html?secret={servers.secret_port}", servers.allowlist)
    assert "herons stand still" in out
    assert "fetch: blocked" in out and "redirected: blocked" in out and "file: blocked" in out
    assert "probe: done" in out
    assert "REACHED" not in out and "OPEN" not in out and "READ" not in out
    assert servers.secret_hits == [] and net.off_loopback == []
    # What the browser was while it rendered: uid 65534 on the host, its own network and mount
    # namespaces, none of the host's files.
    [probe] = servers.probes
    processes = probe["processes"]
    assert processes, "no chromium process found while the page loaded"
    for proc in processes:
        assert proc["uids"] == ["65534"] * 4, proc
        assert proc["own_net"] and proc["own_mnt"], proc
        assert not (proc["sees_shadow"] or proc["sees_root_home"] or proc["sees_workspace"]), proc


@needs_browser
@pytest.mark.parametrize("sandbox", [pytest.param("bwrap", marks=needs_bwrap), "none"])
def test_safety_net_stops_traffic_that_escapes_routing(sandbox, tmp_path, servers) -> None:
    """Without any route installed, Chromium still reaches nothing: a closed proxy (and, in
    bubblewrap, an empty network namespace). This is what catches WebSockets and prefetches."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    settings = _settings(tmp_path, [], browser=True, sandbox=sandbox)
    with browser_mod.browser_workdir() as workdir, browser_mod._ClosedPort() as port, sync_playwright() as pw:
        plan = browser_mod.launch_plan(settings, Path(workdir), port)
        context = pw.chromium.launch_persistent_context(
            str(plan.profile), executable_path=plan.executable, args=plan.args, env=dict(plan.env),
            chromium_sandbox=plan.chromium_sandbox, headless=True, timeout=30_000,
        )
        try:
            page = context.new_page()
            for url in (f"http://127.0.0.1:{servers.secret_port}/", f"http://localhost:{servers.secret_port}/"):
                with pytest.raises(PlaywrightError, match="ERR_PROXY|ERR_NAME|ERR_CONNECTION|ERR_TUNNEL"):
                    page.goto(url, timeout=10_000)
        finally:
            context.close()
    assert servers.secret_hits == []


@needs_browser
def test_browser_without_bubblewrap_falls_back_to_plain_http(tmp_path, net, servers, monkeypatch) -> None:
    monkeypatch.setattr(browser_mod, "_find_bwrap", lambda: None)
    out = read_browser(tmp_path, f"{servers.allowed}/page", servers.allowlist)
    assert "otters hold hands" in out
    assert "plain HTTP" in out and "bubblewrap is not installed" in out and "AUTOGPT_SANDBOX=none" in out


@needs_browser
def test_unsandboxed_browser_is_still_routed_through_the_guard(tmp_path, net, servers) -> None:
    settings = _settings(tmp_path, servers.allowlist, browser=True, sandbox="none")
    ctx = ToolContext(workspace=tmp_path / "ws", settings=settings)
    out = builtin.read_webpage(ctx, {"url": f"{servers.allowed}/attack.html?secret={servers.secret_port}"})
    assert "herons stand still" in out and "plain HTTP" not in out
    assert "fetch: blocked" in out and "REACHED" not in out and "OPEN" not in out
    assert servers.secret_hits == []


def test_wrapper_script_runs_chromium_in_bubblewrap_as_nobody(tmp_path) -> None:
    import shlex

    data = tmp_path / "data"
    script = browser_mod.wrapper_script("/usr/bin/bwrap", CHROMIUM, data, drop_root=True)
    assert script.startswith("#!/bin/sh\n")
    argv = shlex.split(script.splitlines()[-1])
    assert argv[:2] == ["exec", "/usr/bin/setpriv"] and "--reuid=65534" in argv
    for flag in ("--unshare-all", "--unshare-user", "--clearenv", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--uid") + 1] == "65534"
    assert "--disable-userns" not in argv  # Chromium's own sandbox needs user namespaces inside
    writable = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert writable == [str(data)]  # the only host path it may write
    readable = {argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--ro-bind-try")}
    assert "/" not in readable and not any(p.startswith(("/root", "/home", "/work", "/tmp")) for p in readable)
    assert argv[-2:] == [CHROMIUM, "$@"]


def test_fulfilled_headers_never_carry_a_location() -> None:
    """Chromium follows a fulfilled redirect without routing the next hop: no Location may reach it."""
    import httpx

    response = httpx.Response(302, headers=[
        ("Location", "http://127.0.0.1:1/"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
        ("Content-Encoding", "gzip"), ("Content-Type", "text/html"),
    ])
    assert browser_mod._response_headers(response) == {"set-cookie": "a=1\nb=2", "content-type": "text/html"}


def test_a_slow_resolver_is_cut_by_the_timeout(tmp_path, net, monkeypatch) -> None:
    import time

    resolve = socket.getaddrinfo

    def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow.example":
            time.sleep(1.5)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    net.names["slow.example"] = [[PUBLIC_IP]]
    started = time.monotonic()
    with pytest.raises(ToolError, match="resolving slow.example took longer than 0.3s"):
        asyncio.run(run_block(HTTPRequest, {"url": "http://slow.example/", "timeout": 0.3}, _block_ctx(tmp_path, [])))
    assert time.monotonic() - started < 1.4
