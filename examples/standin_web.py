"""A local stand-in for the parts of the web the examples use, so they run offline.

    python examples/standin_web.py [PORT]        # default 8765, binds 127.0.0.1 only

Serves, from one stdlib HTTP server:
  GET  /search?q=...&format=json   SearXNG's JSON API: a few news results pointing back here
  GET  /news/<slug>                the articles (plain HTML with real paragraphs)
  GET  /r/<subreddit>/<sort>.json  a Reddit listing (hot, new, top, rising)
  POST /2/tweets                   X API v2: checks the Bearer token, records the tweet
  POST /v2/ugcPosts                LinkedIn UGC posts: checks token, protocol header and body shape
  GET  /_posts                     what was posted so far, as JSON (tokens are never recorded)

Tokens it accepts: env STANDIN_TWITTER_TOKEN / STANDIN_LINKEDIN_TOKEN, or the defaults below.
Everything here is made up: it is test data, not news.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_PORT = 8765
TWITTER_TOKEN = "standin-twitter-token"
LINKEDIN_TOKEN = "standin-linkedin-token"

ARTICLES: dict[str, dict[str, Any]] = {
    "solar-park-approved": {
        "title": "Riverside solar park approved after two-year review",
        "date": "2026-11-20",
        "paragraphs": [
            "The regional planning board on Thursday approved a 48-megawatt solar park on former farmland "
            "along the Elbe river, ending a review that began in 2024.",
            "The park will cover 62 hectares and is expected to supply about 14,000 households. Construction "
            "is scheduled to start in March, with the first panels connected to the grid by the end of next year.",
            "Local farmers will keep grazing sheep between the panel rows under an agreement with the operator, "
            "which the board said was decisive for its vote.",
            "Opponents had raised concerns about the view from the river path. The operator agreed to plant a "
            "hedge of native shrubs along the northern edge of the site.",
        ],
    },
    "coral-reef-mapped": {
        "title": "Researchers map a deep-water coral reef in unprecedented detail",
        "date": "2026-11-21",
        "paragraphs": [
            "A team of marine biologists has produced the most detailed map yet of a cold-water coral reef "
            "lying 300 metres below the surface of the North Atlantic.",
            "Using an autonomous underwater vehicle, the researchers captured more than 90,000 images over six "
            "weeks and stitched them into a three-dimensional model with centimetre resolution.",
            "The reef, built mostly by the stony coral Lophelia pertusa, is home to more than 1,200 species. "
            "The map shows damage from trawling nets on its eastern flank.",
            "The team says the data will help authorities decide where fishing should be restricted, and has "
            "published the model openly for other scientists.",
        ],
    },
    "rail-line-reopens": {
        "title": "Regional rail line reopens with faster trains after upgrade",
        "date": "2026-11-22",
        "paragraphs": [
            "The regional rail line between Northbridge and Eastfield reopened on Monday after an eight-month "
            "upgrade that cut the journey time from 52 to 38 minutes.",
            "New signalling allows trains to run every 15 minutes at peak times instead of every 30, and all "
            "eleven stations now have step-free access.",
            "Commuter groups welcomed the reopening but asked the operator to add late-evening services, which "
            "it said it would consider in the next timetable change.",
        ],
    },
    "library-robots": {
        "title": "City library lends out robot kits to teach coding",
        "date": "2026-11-22",
        "paragraphs": [
            "The central library has started lending small programmable robot kits, and all 40 were booked "
            "within the first week.",
            "Each kit comes with printed lessons for beginners, and volunteers run a weekly help session on "
            "Saturday mornings for children and adults.",
            "The library plans to double the number of kits next year, funded by a grant from a local "
            "technology foundation.",
        ],
    },
}

REDDIT_POSTS: list[dict[str, Any]] = [
    {"title": "Weekly tech support thread", "score": 12, "num_comments": 40, "stickied": True,
     "selftext": "Ask your questions here."},
    {"title": "Open-source speech model runs fully offline on a Raspberry Pi 5", "score": 4820, "num_comments": 612,
     "url": "https://example.org/offline-speech"},
    {"title": "EU agrees common charger rules for laptops from 2027", "score": 3975, "num_comments": 880,
     "url": "https://example.org/charger-rules"},
    {"title": "Researchers show a battery that charges to 80% in six minutes", "score": 3310, "num_comments": 455,
     "url": "https://example.org/fast-battery"},
    {"title": "Why are so many apps dropping password logins for passkeys?", "score": 2104, "num_comments": 390,
     "selftext": "Passkeys seem better, but what happens when I lose my phone?"},
    {"title": "A city replaced its traffic lights' software and cut waiting times by 20%", "score": 1877,
     "num_comments": 203, "url": "https://example.org/traffic-lights"},
    {"title": "Retro computing: restoring a 1984 home computer with modern parts", "score": 1502,
     "num_comments": 121, "url": "https://example.org/retro-restore"},
    {"title": "Satellite internet now available on regional trains", "score": 1210, "num_comments": 174,
     "url": "https://example.org/train-wifi"},
    {"title": "Study: remote work tools use less energy than commuting, with caveats", "score": 998,
     "num_comments": 260, "url": "https://example.org/remote-energy"},
    {"title": "Ask: what's the most useful home automation you've set up?", "score": 870, "num_comments": 530,
     "selftext": "Mine turns off the heating when a window is open."},
    {"title": "Open hardware laptop reaches funding goal in two days", "score": 760, "num_comments": 98,
     "url": "https://example.org/open-laptop"},
]


def _article_html(slug: str, article: dict[str, Any], base: str) -> str:
    paragraphs = "\n".join(f"    <p>{html.escape(p)}</p>" for p in article["paragraphs"])
    others = "\n".join(
        f'      <li><a href="{base}/news/{s}">{html.escape(a["title"])}</a></li>'
        for s, a in ARTICLES.items() if s != slug
    )
    title = html.escape(article["title"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Stand-in News</title></head>
<body>
  <header><nav><a href="{base}/">Stand-in News</a></nav></header>
  <main>
  <article>
    <h1>{title}</h1>
    <p class="byline">By the Stand-in News desk · {article["date"]}</p>
{paragraphs}
  </article>
  </main>
  <aside><h2>More news</h2><ul>
{others}
  </ul></aside>
  <footer><p>Stand-in News is test data served by examples/standin_web.py.</p></footer>
</body></html>
"""


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], twitter_token: str, linkedin_token: str):
        super().__init__(address, Handler)
        self.twitter_token = twitter_token
        self.linkedin_token = linkedin_token
        self.posts: dict[str, list[dict[str, Any]]] = {"tweets": [], "linkedin": []}
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    server: StandinServer
    server_version = "StandinWeb/1.0"

    # Plumbing -------------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if os.environ.get("STANDIN_VERBOSE"):
            super().log_message(format, *args)

    def _send(self, status: int, body: Any, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def _bearer_ok(self, expected: str) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {expected}"

    def _base(self) -> str:
        return f"http://{self.headers.get('Host') or self.server.base_url.removeprefix('http://')}"

    # GET ------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/search":
            return self._search(query.get("q", [""])[0], query.get("format", ["html"])[0])
        if m := re.fullmatch(r"/news/([a-z0-9-]+)", url.path):
            article = ARTICLES.get(m.group(1))
            if article is None:
                return self._send(404, "<h1>Not found</h1>", "text/html")
            return self._send(200, _article_html(m.group(1), article, self._base()), "text/html")
        if m := re.fullmatch(r"/r/([A-Za-z0-9_]+)/(hot|new|top|rising)\.json", url.path):
            return self._reddit(m.group(1), m.group(2), int(query.get("limit", ["25"])[0]))
        if url.path == "/_posts":
            with self.server.lock:
                return self._send(200, self.server.posts)
        if url.path == "/":
            links = "".join(f'<li><a href="/news/{s}">{html.escape(a["title"])}</a></li>' for s, a in ARTICLES.items())
            return self._send(200, f"<html><body><h1>Stand-in News</h1><ul>{links}</ul></body></html>", "text/html")
        self._send(404, {"error": f"no stand-in for {url.path}"})

    def _search(self, q: str, fmt: str) -> None:
        if fmt != "json":
            return self._send(403, {"error": "only format=json is served"})  # what SearXNG answers too
        words = {w for w in re.findall(r"\w+", q.lower()) if len(w) > 2}

        def score(item: tuple[str, dict[str, Any]]) -> int:
            text = (item[1]["title"] + " " + " ".join(item[1]["paragraphs"])).lower()
            return sum(w in text for w in words)

        # Every article is "news": unknown words (or another language) still get all of them.
        ranked = sorted(ARTICLES.items(), key=score, reverse=True)
        results = [
            {"title": a["title"], "url": f"{self._base()}/news/{slug}", "content": a["paragraphs"][0],
             "engine": "standin", "publishedDate": a["date"]}
            for slug, a in ranked
        ]
        self._send(200, {"query": q, "number_of_results": len(results), "results": results})

    def _reddit(self, sub: str, sort: str, limit: int) -> None:
        posts = REDDIT_POSTS if sort == "hot" else sorted(REDDIT_POSTS, key=lambda p: -p["score"])
        now = time.time()
        children = []
        for i, p in enumerate(posts[: max(1, min(limit, 100))]):
            pid = f"sx{i:04d}"
            permalink = f"/r/{sub}/comments/{pid}/{re.sub(r'[^a-z0-9]+', '_', p['title'].lower())[:40]}/"
            children.append({"kind": "t3", "data": {
                "id": pid, "subreddit": sub, "title": p["title"], "score": p["score"],
                "num_comments": p["num_comments"], "author": f"standin_user{i}", "created_utc": now - 3600 * i,
                "permalink": permalink, "url": p.get("url") or self._base() + permalink,
                "selftext": p.get("selftext", ""), "stickied": p.get("stickied", False),
            }})
        self._send(200, {"kind": "Listing", "data": {"after": None, "dist": len(children), "children": children}})

    # POST -----------------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path
        if path == "/2/tweets":
            return self._tweet()
        if path == "/v2/ugcPosts":
            return self._ugc_post()
        self._send(404, {"error": f"no stand-in for POST {path}"})

    def _tweet(self) -> None:
        if not self._bearer_ok(self.server.twitter_token):
            return self._send(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                    "detail": "Unauthorized"})
        body = self._json_body()
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return self._send(400, {"title": "Invalid Request", "detail": "body must be {\"text\": \"...\"}"})
        with self.server.lock:
            tweet_id = str(1860000000000000000 + len(self.server.posts["tweets"]) + 1)
            self.server.posts["tweets"].append({"id": tweet_id, "text": body["text"], "token_ok": True})
        self._send(201, {"data": {"id": tweet_id, "text": body["text"], "edit_history_tweet_ids": [tweet_id]}})

    def _ugc_post(self) -> None:
        if not self._bearer_ok(self.server.linkedin_token):
            return self._send(401, {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401})
        if self.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return self._send(400, {"message": "X-Restli-Protocol-Version: 2.0.0 is required", "status": 400})
        body = self._json_body()
        try:
            text = body["specificContent"]["com.linkedin.ugc.ShareContent"]["shareCommentary"]["text"]
            author = body["author"]
            assert body["lifecycleState"] == "PUBLISHED" and author.startswith("urn:li:")
        except (TypeError, KeyError, AssertionError, AttributeError):
            return self._send(422, {"message": "not a valid ugcPosts body", "status": 422})
        with self.server.lock:
            urn = f"urn:li:share:{7100000000000000000 + len(self.server.posts['linkedin']) + 1}"
            self.server.posts["linkedin"].append({"id": urn, "author": author, "text": text, "token_ok": True})
        self._send(201, {"id": urn}, headers={"X-RestLi-Id": urn})


def make_server(port: int = 0, host: str = "127.0.0.1", twitter_token: str | None = None,
                linkedin_token: str | None = None) -> StandinServer:
    """A server bound to host:port (0 picks a free port); call serve_forever() (e.g. in a thread)."""
    return StandinServer(
        (host, port),
        twitter_token or os.environ.get("STANDIN_TWITTER_TOKEN") or TWITTER_TOKEN,
        linkedin_token or os.environ.get("STANDIN_LINKEDIN_TOKEN") or LINKEDIN_TOKEN,
    )


def main(argv: list[str]) -> None:
    port = int(argv[1]) if len(argv) > 1 else DEFAULT_PORT
    server = make_server(port)
    print(f"stand-in web on {server.base_url} (Ctrl-C to stop)", flush=True)
    print(f"  twitter token: {server.twitter_token}   linkedin token: {server.linkedin_token}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv)
