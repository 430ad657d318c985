"""Storage, communication and social blocks, against local stand-ins: SQLite, fakeredis, an aiosmtpd
server on 127.0.0.1, httpx.MockTransport for the HTTP APIs, and a loopback SearXNG."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from forge.blocks import communication, social, storage
from forge.blocks.base import Block, BlockContext
from forge.blocks.credentials import CredentialsMissingError, CredentialStore
from forge.blocks.registry import BlockRegistry
from forge.errors import ConfigError, ToolError

ALL_BLOCKS = [
    storage.DatabaseQuery, storage.DatabaseLog, storage.RedisGet, storage.RedisSet,
    communication.SendEmail, communication.SlackMessage, communication.DiscordWebhook,
    social.RedditFetch, social.TwitterPost, social.LinkedInPost,
]
TOKEN = "tok-SECRET-123456"
HOOK = "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX"


def make_ctx(settings, tmp_path, creds: dict[str, dict[str, str]] | None = None, env: dict | None = None):
    store = CredentialStore(tmp_path / "creds.json", environ=env or {})
    if creds:
        for provider, fields in creds.items():
            store.set(provider, fields)
    return BlockContext(workspace=tmp_path / "files", settings=settings, credentials=store)


def run(block: type[Block], ctx: BlockContext, **inputs: Any) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async for name, value in block().run(block.Input(**inputs), ctx):
            assert name in block.Output.model_fields, name
            out[name] = value
        block.Output(**out)  # every output matches the declared schema
        return out

    return asyncio.run(go())


class Recorder:
    """An httpx.MockTransport that records requests and answers with `reply(request)`."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response]):
        self.requests: list[httpx.Request] = []
        self._reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._reply(request)


@pytest.fixture
def http(monkeypatch):
    def install(reply: Callable[[httpx.Request], httpx.Response]) -> Recorder:
        rec = Recorder(reply)
        monkeypatch.setattr(communication, "_transport", httpx.MockTransport(rec))
        return rec

    return install


# Registry --------------------------------------------------------------------------------------
def test_blocks_register_with_expected_ids_and_schemas():
    registry = BlockRegistry(ALL_BLOCKS)
    assert registry.ids() == sorted([
        "database_query", "database_log", "redis_get", "redis_set", "send_email", "slack_message",
        "discord_webhook", "reddit_fetch", "twitter_post", "linkedin_post",
    ])
    for block in registry:
        info = json.loads(json.dumps(block.describe()))
        assert info["description"] and info["name"]
        assert block.default_input() in block.input_names()
        assert block.cacheable is False  # all of them touch the outside world
    assert storage.DatabaseLog.default_input() == "record"
    assert communication.SendEmail.default_input() == "body"
    assert social.TwitterPost.credentials == ("twitter",)


# SQL -------------------------------------------------------------------------------------------
def test_database_query_defaults_to_sqlite_in_workspace(settings, tmp_path):
    ctx = make_ctx(settings, tmp_path)
    run(storage.DatabaseQuery, ctx, query="CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    assert (ctx.workspace / "db.sqlite").is_file()
    out = run(storage.DatabaseQuery, ctx, query="INSERT INTO t (name) VALUES (:name)", params={"name": "a"})
    assert out == {"rows": [], "rowcount": 1}
    out = run(storage.DatabaseQuery, ctx, query="INSERT INTO t (name) VALUES (:name)",
              params=[{"name": "b"}, {"name": "c"}])
    assert out["rowcount"] == 2
    # A hostile value is bound, never spliced into the statement.
    run(storage.DatabaseQuery, ctx, query="INSERT INTO t (name) VALUES (:1)", params=["x'); DROP TABLE t; --"])
    out = run(storage.DatabaseQuery, ctx, query="SELECT id, name FROM t WHERE id > :1 ORDER BY id", params=[0])
    assert [r["name"] for r in out["rows"]] == ["a", "b", "c", "x'); DROP TABLE t; --"]
    assert out["rowcount"] == 4 and out["rows"][0] == {"id": 1, "name": "a"}
    out = run(storage.DatabaseQuery, ctx, query="SELECT name FROM t ORDER BY id", max_rows=2)
    assert out["rowcount"] == 2


def test_database_query_url_from_credentials_and_clean_errors(settings, tmp_path):
    db = tmp_path / "other.db"
    ctx = make_ctx(settings, tmp_path, {"database": {"url": f"sqlite:///{db}"}})
    run(storage.DatabaseQuery, ctx, query="CREATE TABLE x (v INTEGER)")
    assert db.is_file() and not (ctx.workspace / "db.sqlite").exists()
    with pytest.raises(ToolError) as e:
        run(storage.DatabaseQuery, ctx, query="SELECT * FROM missing WHERE a = :a", params={"a": "zz"})
    msg = str(e.value)
    assert "no such table: missing" in msg and "[SQL:" not in msg and "\n" not in msg


def test_database_url_password_never_in_errors(settings, tmp_path):
    ctx = make_ctx(settings, tmp_path)
    with pytest.raises((ConfigError, ToolError)) as e:
        run(storage.DatabaseQuery, ctx, query="SELECT 1", url="nosuchdialect://user:hunter2pass@db.example/x")
    assert "hunter2pass" not in str(e.value)
    assert storage._scrub("could not connect to postgresql://bob:s3cret@host/db") == (
        "could not connect to postgresql://bob:***@host/db"
    )


def test_database_log_creates_table_and_appends(settings, tmp_path):
    ctx = make_ctx(settings, tmp_path)
    first = run(storage.DatabaseLog, ctx, record={"tweet": "hi", "n": 1}, collection="social_media_logs")
    second = run(storage.DatabaseLog, ctx, record="plain text", collection="social_media_logs")
    assert (first["id"], second["id"]) == (1, 2) and first["collection"] == "social_media_logs"
    rows = run(storage.DatabaseQuery, ctx, query="SELECT id, ts, data FROM social_media_logs ORDER BY id")["rows"]
    assert json.loads(rows[0]["data"]) == {"tweet": "hi", "n": 1}
    assert json.loads(rows[1]["data"]) == "plain text"
    assert rows[0]["ts"]
    with pytest.raises(ToolError, match="invalid collection name"):
        run(storage.DatabaseLog, ctx, record={}, collection="logs; DROP TABLE x")


@pytest.mark.parametrize("url_of", [
    lambda out: f"sqlite:///{out}",  # absolute, outside
    lambda out: "sqlite:///../outside.db",  # relative, climbing out
    lambda out: "sqlite:///sub/../../outside.db",
    lambda out: "sqlite:///link/outside.db",  # through a symlink in the files folder
    lambda out: f"sqlite+pysqlite:///{out}",  # another driver spelling
    lambda out: f"sqlite:///file:{out}?uri=true",  # a URI filename
])
@pytest.mark.parametrize("block", ["query", "log"])
def test_sqlite_urls_from_node_input_stay_in_the_files_folder(settings, tmp_path, url_of, block):
    ctx = make_ctx(settings, tmp_path)
    ctx.workspace.mkdir(parents=True)
    (ctx.workspace / "link").symlink_to(tmp_path)
    outside = tmp_path / "outside.db"
    with pytest.raises(ConfigError, match="outside the workflow's files folder|not allowed in node input") as e:
        if block == "query":
            run(storage.DatabaseQuery, ctx, query="CREATE TABLE pwned (x)", url=url_of(outside))
        else:
            run(storage.DatabaseLog, ctx, record={"x": 1}, url=url_of(outside))
    assert "\n" not in str(e.value)
    assert not outside.exists()


def test_sqlite_urls_inside_the_files_folder_and_in_memory_work(settings, tmp_path):
    ctx = make_ctx(settings, tmp_path)
    run(storage.DatabaseQuery, ctx, query="CREATE TABLE t (x)", url="sqlite:///data/app.db")
    assert (ctx.workspace / "data" / "app.db").is_file()  # relative to the files folder, not the cwd
    inside = (ctx.workspace / "data" / "app.db").resolve()
    out = run(storage.DatabaseQuery, ctx, query="SELECT count(*) AS n FROM t", url=f"sqlite:///{inside}?timeout=5")
    assert out["rows"] == [{"n": 0}]
    assert run(storage.DatabaseQuery, ctx, query="SELECT 2 AS n", url="sqlite://")["rows"] == [{"n": 2}]
    assert run(storage.DatabaseLog, ctx, record="x", url="sqlite:///data/app.db")["id"] == 1


@pytest.mark.parametrize("statement", [
    "ATTACH DATABASE '{out}' AS other",
    "VACUUM INTO '{out}'",
    "SELECT load_extension('{out}')",
    "PRAGMA temp_store_directory = '{dir}'",
])
@pytest.mark.parametrize("where", ["default", "credentials", "memory"])
def test_sql_cannot_open_other_files_or_load_code(settings, tmp_path, statement, where):
    creds = {"database": {"url": f"sqlite:///{tmp_path / 'mine.db'}"}} if where == "credentials" else None
    ctx = make_ctx(settings, tmp_path, creds)
    url = "sqlite://" if where == "memory" else None
    outside = tmp_path / "escaped.db"
    run(storage.DatabaseQuery, ctx, query="CREATE TABLE t (x)", url=url)
    with pytest.raises(ToolError, match="not authorized|authorization denied") as e:
        run(storage.DatabaseQuery, ctx, query=statement.format(out=outside, dir=tmp_path), url=url)
    assert "ATTACH, VACUUM INTO and load_extension are refused" in str(e.value)
    assert not outside.exists()
    # The database still works for everything else, pragmas SQLAlchemy uses included.
    if where != "memory":  # (each in-memory run starts empty)
        assert run(storage.DatabaseQuery, ctx, query="PRAGMA table_info(t)")["rows"][0]["name"] == "x"
    assert run(storage.DatabaseLog, ctx, record="still fine", url=url)["id"] == 1


# Redis -----------------------------------------------------------------------------------------
@pytest.fixture
def fake_redis(monkeypatch):
    import fakeredis

    server = fakeredis.FakeServer()
    urls: list[str] = []

    def client(url: str):
        urls.append(url)
        return fakeredis.aioredis.FakeRedis(server=server, decode_responses=True)

    monkeypatch.setattr(storage, "_client", client)
    return server, urls


def test_redis_set_and_get(settings, tmp_path, fake_redis):
    _, urls = fake_redis
    ctx = make_ctx(settings, tmp_path, env={"REDIS_URL": "redis://:pw123456@127.0.0.1:6379/0"})
    assert run(storage.RedisGet, ctx, key="k") == {"value": None, "found": False}
    assert run(storage.RedisSet, ctx, key="k", value="hello") == {"key": "k"}
    assert run(storage.RedisGet, ctx, key="k") == {"value": "hello", "found": True}
    run(storage.RedisSet, ctx, key="j", value={"a": [1, 2]}, ttl=60)
    assert json.loads(run(storage.RedisGet, ctx, key="j")["value"]) == {"a": [1, 2]}
    assert urls[0] == "redis://:pw123456@127.0.0.1:6379/0"

    async def ttl() -> int:
        import fakeredis

        return await fakeredis.aioredis.FakeRedis(server=fake_redis[0]).ttl("j")

    assert 0 < asyncio.run(ttl()) <= 60


def test_redis_without_url_names_the_provider(settings, tmp_path, fake_redis):
    with pytest.raises(CredentialsMissingError) as e:
        run(storage.RedisGet, make_ctx(settings, tmp_path), key="k")
    assert "redis" in str(e.value) and "autogpt credentials set redis" in str(e.value)


def test_redis_errors_hide_the_password(settings, tmp_path, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    class Broken:
        async def get(self, key):
            raise RedisConnectionError("Error connecting to redis://:pw123456@127.0.0.1:1/0")

        async def aclose(self):
            pass

    monkeypatch.setattr(storage, "_client", lambda url: Broken())
    ctx = make_ctx(settings, tmp_path, {"redis": {"url": "redis://:pw123456@127.0.0.1:1/0"}})
    with pytest.raises(ToolError) as e:
        run(storage.RedisGet, ctx, key="k")
    assert "pw123456" not in str(e.value) and "redis GET failed" in str(e.value)


# Email -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Handler:
        def __init__(self) -> None:
            self.messages: list[tuple[list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            return "250 OK"

    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: aiosmtpd sends the 535 itself (True means "already answered" and the client waits).
        return AuthResult(success=auth_data.password == b"good-password", handled=False)

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        yield controller, handler, logins
    finally:
        controller.stop()


def test_send_email_through_local_smtp(settings, tmp_path, smtp_server):
    controller, handler, logins = smtp_server
    creds = {"host": "127.0.0.1", "port": str(controller.port), "username": "bot@example.com",
             "password": "good-password"}
    ctx = make_ctx(settings, tmp_path, {"smtp": creds})
    out = run(communication.SendEmail, ctx, to="a@example.com, b@example.com", subject="Daily digest",
              body="Three things happened.", html="<p>Three things happened.</p>")
    assert out["message_id"].startswith("<") and out["message_id"].endswith("@example.com>")
    assert logins == [("bot@example.com", "good-password")]
    rcpts, raw = handler.messages[0]
    assert rcpts == ["a@example.com", "b@example.com"]
    msg = message_from_bytes(raw)
    assert msg["Subject"] == "Daily digest" and msg["From"] == "bot@example.com"
    assert msg["Message-ID"] == out["message_id"]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert "Three things happened." in parts["text/plain"] and "<p>" in parts["text/html"]


def test_send_email_bad_login_and_missing_credentials(settings, tmp_path, smtp_server):
    controller, _, _ = smtp_server
    creds = {"host": "127.0.0.1", "port": str(controller.port), "username": "bot@example.com",
             "password": "wrong-password", "sender": "Bot <bot@example.com>"}
    with pytest.raises(ConfigError) as e:
        run(communication.SendEmail, make_ctx(settings, tmp_path, {"smtp": creds}), to=["x@example.com"], body="b")
    assert "refused" in str(e.value) and "wrong-password" not in str(e.value)
    with pytest.raises(CredentialsMissingError) as e2:
        run(communication.SendEmail, make_ctx(settings, tmp_path / "2"), to="x@example.com", body="b")
    assert "smtp" in str(e2.value) and "autogpt credentials set smtp" in str(e2.value)
    with pytest.raises(ToolError, match="invalid recipient"):
        run(communication.SendEmail, make_ctx(settings, tmp_path, {"smtp": creds}), to="not-an-address", body="b")


# Slack / Discord -------------------------------------------------------------------------------
def test_slack_webhook_posts_json(settings, tmp_path, http):
    rec = http(lambda r: httpx.Response(200, text="ok"))
    ctx = make_ctx(settings, tmp_path, {"slack": {"webhook_url": HOOK}})
    assert run(communication.SlackMessage, ctx, text="deploy done") == {"ok": True, "ts": ""}
    assert str(rec.requests[0].url) == HOOK
    assert json.loads(rec.requests[0].content) == {"text": "deploy done"}


def test_slack_token_uses_chat_post_message(settings, tmp_path, http):
    def reply(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["channel"] == "#nope":
            return httpx.Response(200, json={"ok": False, "error": "channel_not_found"})
        return httpx.Response(200, json={"ok": True, "ts": "1700000000.000100"})

    rec = http(reply)
    ctx = make_ctx(settings, tmp_path, env={"SLACK_BOT_TOKEN": TOKEN})
    out = run(communication.SlackMessage, ctx, text="hi", channel="#general", api_base="http://slack.test/api")
    assert out == {"ok": True, "ts": "1700000000.000100"}
    req = rec.requests[0]
    assert str(req.url) == "http://slack.test/api/chat.postMessage"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(ToolError, match="channel_not_found"):
        run(communication.SlackMessage, ctx, text="hi", channel="#nope", api_base="http://slack.test/api")
    with pytest.raises(ToolError, match="needs `channel`"):
        run(communication.SlackMessage, ctx, text="hi")


def test_webhook_urls_never_leak_into_errors(settings, tmp_path, http):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    http(refuse)
    for block, provider, text_field in [
        (communication.SlackMessage, "slack", "text"),
        (communication.DiscordWebhook, "discord", "content"),
    ]:
        ctx = make_ctx(settings, tmp_path, {provider: {"webhook_url": HOOK}})
        with pytest.raises(ToolError) as e:
            run(block, ctx, **{text_field: "x"})
        assert "XXXXSECRETXXXX" not in str(e.value) and "hooks.example.com" in str(e.value)

    http(lambda r: httpx.Response(404, json={"message": f"Unknown Webhook {r.url}"}))
    ctx = make_ctx(settings, tmp_path, {"discord": {"webhook_url": HOOK}})
    with pytest.raises(ToolError) as e:
        run(communication.DiscordWebhook, ctx, content="x")
    assert "404" in str(e.value) and "XXXXSECRETXXXX" not in str(e.value)


def test_discord_webhook(settings, tmp_path, http):
    rec = http(lambda r: httpx.Response(204))
    ctx = make_ctx(settings, tmp_path, env={"DISCORD_WEBHOOK_URL": HOOK})
    assert run(communication.DiscordWebhook, ctx, content="hello", username="forge") == {"status": 204}
    assert json.loads(rec.requests[0].content) == {"content": "hello", "username": "forge"}
    with pytest.raises(ToolError, match="2000 characters"):
        run(communication.DiscordWebhook, ctx, content="x" * 2001)
    with pytest.raises(CredentialsMissingError, match="discord"):
        run(communication.DiscordWebhook, make_ctx(settings, tmp_path / "2"), content="x")


# Reddit ----------------------------------------------------------------------------------------
def listing(n: int, stickied: int = 0) -> dict:
    children = [
        {"kind": "t3", "data": {"title": f"Post {i}", "url": f"https://news.example/{i}", "score": 100 - i,
                                "num_comments": i, "author": f"u{i}", "created_utc": 1.7e9 + i,
                                "permalink": f"/r/technology/comments/{i}/post/", "selftext": "",
                                "stickied": i < stickied}}
        for i in range(n)
    ]
    return {"kind": "Listing", "data": {"children": children}}


def test_reddit_fetch(settings, tmp_path, http):
    rec = http(lambda r: httpx.Response(200, json=listing(6, stickied=1)))
    ctx = make_ctx(settings, tmp_path)
    out = run(social.RedditFetch, ctx, subreddit="r/technology", sort="top", limit=3, base_url="http://reddit.test")
    req = rec.requests[0]
    assert req.url.path == "/r/technology/top.json" and req.url.params["limit"] == "6"
    assert "autogpt" in req.headers["user-agent"]
    assert [p["title"] for p in out["posts"]] == ["Post 1", "Post 2", "Post 3"]
    assert out["posts"][0]["permalink"] == "http://reddit.test/r/technology/comments/1/post/"
    assert set(out["posts"][0]) == {"title", "url", "score", "num_comments", "author", "created_utc",
                                    "permalink", "selftext"}
    assert out["text"].startswith("1. Post 1 (99 points, 1 comments)\n   https://news.example/1")

    http(lambda r: httpx.Response(404, json={"error": 404}))
    with pytest.raises(ToolError, match="not found"):
        run(social.RedditFetch, ctx, subreddit="nosuchsub", base_url="http://reddit.test")
    with pytest.raises(ToolError, match="invalid subreddit"):
        run(social.RedditFetch, ctx, subreddit="../etc")
    with pytest.raises(ValueError):
        social.RedditFetch.Input(subreddit="x", limit=101)


# Twitter / LinkedIn ----------------------------------------------------------------------------
def test_tweet_length_follows_x_weighting():
    assert social.tweet_length("a" * 280) == 280
    assert social.tweet_length("中" * 140) == 280  # CJK counts double
    assert social.tweet_length("see https://example.com/" + "x" * 100) == 4 + 23
    cut = social.truncate_tweet("word " * 100)
    assert cut.endswith("…") and social.tweet_length(cut) <= 280


def test_twitter_post(settings, tmp_path, http):
    rec = http(lambda r: httpx.Response(201, json={"data": {"id": "1850000000000000001", "text": "x"}}))
    ctx = make_ctx(settings, tmp_path, {"twitter": {"token": TOKEN}})
    out = run(social.TwitterPost, ctx, text="Hello 🌍", api_base="http://x.test")
    assert out == {"id": "1850000000000000001", "url": "https://x.com/i/web/status/1850000000000000001"}
    req = rec.requests[0]
    assert str(req.url) == "http://x.test/2/tweets" and req.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(req.content) == {"text": "Hello 🌍"}
    assert TOKEN not in json.dumps(out)

    with pytest.raises(ToolError, match="over the 280 limit"):
        run(social.TwitterPost, ctx, text="y" * 281, api_base="http://x.test")
    run(social.TwitterPost, ctx, text="y " * 200, truncate=True, api_base="http://x.test")
    sent = json.loads(rec.requests[-1].content)["text"]
    assert sent.endswith("…") and social.tweet_length(sent) <= 280


def test_twitter_integration_names_the_provider(settings, tmp_path, http):
    rec = http(lambda r: httpx.Response(201, json={"data": {"id": "7"}}))
    ctx = make_ctx(settings, tmp_path, {"twitter_oauth": {"token": "other-token-99"}})
    run(social.TwitterPost, ctx, text="hi", integration="twitter_oauth", api_base="http://x.test")
    assert rec.requests[0].headers["authorization"] == "Bearer other-token-99"
    with pytest.raises(CredentialsMissingError) as e:
        run(social.TwitterPost, ctx, text="hi", api_base="http://x.test")
    assert "twitter" in str(e.value) and "autogpt credentials set twitter" in str(e.value)

    http(lambda r: httpx.Response(401, json={"title": "Unauthorized", "detail": f"bad token {TOKEN}"}))
    ctx = make_ctx(settings, tmp_path / "2", {"twitter": {"token": TOKEN}})
    with pytest.raises(ConfigError) as e2:
        run(social.TwitterPost, ctx, text="hi", api_base="http://x.test")
    assert "401" in str(e2.value) and TOKEN not in str(e2.value)


def test_linkedin_post(settings, tmp_path, http):
    urn = "urn:li:share:42"
    rec = http(lambda r: httpx.Response(201, headers={"x-restli-id": urn}, json={"id": urn}))
    ctx = make_ctx(settings, tmp_path, env={"LINKEDIN_ACCESS_TOKEN": TOKEN, "LINKEDIN_AUTHOR_URN": "urn:li:person:abc"})
    assert run(social.LinkedInPost, ctx, text="Big news", api_base="http://li.test") == {"id": "urn:li:share:42"}
    req = rec.requests[0]
    assert str(req.url) == "http://li.test/v2/ugcPosts"
    assert req.headers["x-restli-protocol-version"] == "2.0.0" and req.headers["authorization"] == f"Bearer {TOKEN}"
    body = json.loads(req.content)
    assert body["author"] == "urn:li:person:abc" and body["lifecycleState"] == "PUBLISHED"
    share = body["specificContent"]["com.linkedin.ugc.ShareContent"]
    assert share == {"shareCommentary": {"text": "Big news"}, "shareMediaCategory": "NONE"}
    assert body["visibility"] == {"com.linkedin.ugc.MemberNetworkVisibility": "PUBLIC"}

    no_author = make_ctx(settings, tmp_path / "2", {"linkedin": {"token": TOKEN}})
    with pytest.raises(CredentialsMissingError, match="author=") as e:
        run(social.LinkedInPost, no_author, text="x", api_base="http://li.test")
    assert "linkedin" in str(e.value)
    with pytest.raises(ToolError, match="3000"):
        run(social.LinkedInPost, ctx, text="x" * 3001, api_base="http://li.test")


# SearXNG ---------------------------------------------------------------------------------------
def test_searxng_backend(settings):
    from forge.tools.web import get_search_backend

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.path)
            body = json.dumps({"results": [
                {"title": f"R{i}", "url": f"http://127.0.0.1/{i}", "content": f"snippet {i}"} for i in range(5)
            ]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.searx_url = f"http://127.0.0.1:{server.server_address[1]}/"
        results = get_search_backend("searxng", settings).search("今日 news", 3)
    finally:
        server.shutdown()
        server.server_close()
    assert [r.title for r in results] == ["R0", "R1", "R2"] and results[0].snippet == "snippet 0"
    assert seen[0].startswith("/search?q=") and "format=json" in seen[0]

    settings.searx_url = None
    with pytest.raises(ConfigError, match="AUTOGPT_SEARX_URL"):
        get_search_backend("searxng", settings)
