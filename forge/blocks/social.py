"""Social blocks: read Reddit, post to X/Twitter and LinkedIn.

`base_url` / `api_base` inputs point the blocks at another host (a proxy, a self-hosted mirror, or
examples/standin_web.py for offline runs). Tokens never appear in outputs or errors.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, Preview
from forge.blocks.communication import credentials_note, error_detail, scrub, send
from forge.blocks.credentials import CredentialsMissingError
from forge.errors import ConfigError, ToolError

# Reddit asks API clients for a unique, descriptive User-Agent and throttles generic ones.
REDDIT_USER_AGENT = "python:autogpt-cli.reddit_fetch:v0.1 (workflow block)"
TWEET_MAX_WEIGHT = 280
LINKEDIN_MAX_CHARS = 3000
_SUBREDDIT = re.compile(r"^[A-Za-z0-9_]{2,21}$")
_URL = re.compile(r"https?://\S+")
# twitter-text v3: these code points weigh 1, every other one 2 (CJK, emoji, ...); a URL weighs 23.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_URL_WEIGHT = 23
ELLIPSIS = "…"


# Reddit --------------------------------------------------------------------------------------
def _post(data: dict[str, Any], base_url: str) -> dict[str, Any]:
    permalink = str(data.get("permalink") or "")
    return {
        "title": str(data.get("title") or ""),
        "url": str(data.get("url") or ""),
        "score": int(data.get("score") or 0),
        "num_comments": int(data.get("num_comments") or 0),
        "author": str(data.get("author") or ""),
        "created_utc": float(data.get("created_utc") or 0),
        "permalink": base_url + permalink if permalink.startswith("/") else permalink,
        "selftext": str(data.get("selftext") or ""),
    }


def format_posts(posts: list[dict[str, Any]], snippet: int = 200) -> str:
    """A compact numbered list: what a model needs to pick topics, nothing more."""
    lines = []
    for i, p in enumerate(posts, 1):
        lines.append(f"{i}. {p['title']} ({p['score']} points, {p['num_comments']} comments)")
        if p["url"] and p["url"] != p["permalink"]:
            lines.append(f"   {p['url']}")
        text = " ".join(p["selftext"].split())
        if text:
            lines.append("   " + (text if len(text) <= snippet else text[: snippet - 3] + "..."))
    return "\n".join(lines)


class RedditFetch(Block):
    id = "reddit_fetch"
    name = "Reddit Fetch"
    description = (
        "Fetch posts from a subreddit (hot, new, top or rising) through Reddit's public JSON. "
        "Outputs the posts (title, url, score, num_comments, author, created_utc, permalink, "
        "selftext) and a compact numbered list of them, ready for an LLM."
    )
    categories = (BlockCategory.SOCIAL,)
    cacheable = False  # listings change by the minute
    effect = Effect.READ
    main_output = "text"  # what a downstream llm_call wants; `posts` carries the structured data

    class Input(BaseModel):
        subreddit: str = Field(description="Subreddit name, e.g. technology (r/ prefix optional)")
        sort: Literal["hot", "new", "top", "rising"] = Field(default="hot", description="Listing order")
        limit: int = Field(default=10, ge=1, le=100, description="How many posts (1-100)")
        include_stickied: bool = Field(default=False, description="Keep moderators' pinned posts")
        base_url: str = Field(default="https://www.reddit.com", description="Reddit (or a mirror) base URL")

    class Output(BaseModel):
        posts: list[dict[str, Any]] = Field(description="The posts, in listing order")
        text: str = Field(description="The posts as a numbered list (title, score, comments, link, excerpt)")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        sub = input.subreddit.strip().removeprefix("/").removeprefix("r/").strip("/")
        if not _SUBREDDIT.match(sub):
            raise ToolError(f"invalid subreddit {input.subreddit[:40]!r}; use a name like technology")
        base = input.base_url.rstrip("/")
        url = f"{base}/r/{sub}/{input.sort}.json"
        # Ask for a few more when pinned posts are dropped, so `limit` real posts come back.
        fetch = min(input.limit + (0 if input.include_stickied else 3), 100)
        response = await send(
            ctx, "reddit_fetch", "GET", url, {}, params={"limit": fetch, "raw_json": 1},
            headers={"User-Agent": REDDIT_USER_AGENT, "Accept": "application/json"}, follow_redirects=True,
        )
        if response.status_code == 404:
            raise ToolError(f"subreddit r/{sub} was not found")
        if response.status_code == 403:
            raise ToolError(f"r/{sub} is private or Reddit blocked the request (HTTP 403)")
        if response.status_code == 429:
            raise ToolError("Reddit is rate-limiting these requests (HTTP 429); run less often")
        if response.status_code >= 400:
            raise ToolError(f"Reddit answered HTTP {response.status_code} for r/{sub}")
        try:
            children = response.json()["data"]["children"]
        except (ValueError, KeyError, TypeError):
            raise ToolError(f"r/{sub}: the answer is not a Reddit listing (wrong base_url?)") from None
        posts = [
            _post(c.get("data") or {}, base)
            for c in children
            if isinstance(c, dict) and c.get("kind", "t3") == "t3"
            and (input.include_stickied or not (c.get("data") or {}).get("stickied"))
        ][: input.limit]
        yield "posts", posts
        yield "text", format_posts(posts) if posts else f"r/{sub} has no {input.sort} posts right now"


# Twitter -------------------------------------------------------------------------------------
def _char_weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2


def tweet_length(text: str) -> int:
    """Length as X counts it (twitter-text v3 weighting, URLs 23); the limit is 280."""
    total, pos = 0, 0
    for m in _URL.finditer(text):
        total += sum(_char_weight(c) for c in text[pos : m.start()]) + _URL_WEIGHT
        pos = m.end()
    return total + sum(_char_weight(c) for c in text[pos:])


def truncate_tweet(text: str, limit: int = TWEET_MAX_WEIGHT) -> str:
    if tweet_length(text) <= limit:
        return text
    room = limit - tweet_length(ELLIPSIS)
    cut = ""
    for ch in text:  # weights are per character outside URLs; a URL that does not fit is cut
        if tweet_length(cut + ch) > room:
            break
        cut += ch
    return cut.rstrip() + ELLIPSIS


def _token(ctx: BlockContext, provider: str) -> dict[str, str]:
    return ctx.credentials.require(provider, "token")


def _auth_failure(provider: str, status: int, detail: str) -> ConfigError:
    return ConfigError(
        f"{provider} rejected the token (HTTP {status}: {detail}); renew it with "
        f"`autogpt credentials set {provider} token=...`"
    )


class TwitterPost(Block):
    id = "twitter_post"
    name = "X/Twitter Post"
    description = (
        "Post a tweet through the X API v2 (POST /2/tweets) with an OAuth 2.0 user token "
        "(`autogpt credentials set twitter token=...`, or TWITTER_BEARER_TOKEN; the `integration` "
        "field names another provider). Text over 280 characters (X's weighting) is refused unless "
        "`truncate` is set. Outputs the tweet id and URL."
    )
    categories = (BlockCategory.SOCIAL,)
    credentials = ("twitter",)
    cacheable = False

    class Input(BaseModel):
        text: str = Field(min_length=1, description="The tweet")
        truncate: bool = Field(default=False, description="Cut text over 280 characters with an ellipsis")
        integration: str = Field(default="twitter", description="Credentials provider holding the token")
        api_base: str = Field(default="https://api.twitter.com", description="X API base URL")

    class Output(BaseModel):
        id: str = Field(description="The new tweet's id")
        url: str = Field(description="Link to the tweet")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        text = input.text.strip()
        length = tweet_length(text)
        if length > TWEET_MAX_WEIGHT:
            if not input.truncate:
                raise ToolError(
                    f"tweet is {length} characters (as X counts them), over the 280 limit; shorten it "
                    "upstream or set truncate: true"
                )
            text = truncate_tweet(text)
        provider = input.integration.strip().lower() or "twitter"
        creds = _token(ctx, provider)
        response = await send(
            ctx, "twitter_post", "POST", input.api_base.rstrip("/") + "/2/tweets", creds,
            json={"text": text}, headers={"Authorization": f"Bearer {creds['token']}"},
        )
        if response.status_code == 401:
            raise _auth_failure(provider, 401, error_detail(response, creds))
        if response.status_code == 429:
            raise ToolError("X is rate-limiting posts (HTTP 429); post less often")
        if response.status_code >= 400:
            raise ToolError(f"X refused the tweet (HTTP {response.status_code}: {error_detail(response, creds)})")
        try:
            tweet_id = str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise ToolError("X accepted the request but its answer has no tweet id") from None
        yield "id", tweet_id
        yield "url", f"https://x.com/i/web/status/{tweet_id}"

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        provider = input.integration.strip().lower() or "twitter"
        _, notes = credentials_note(ctx, provider, "token")
        text = input.text.strip()
        if tweet_length(text) > TWEET_MAX_WEIGHT:
            if input.truncate:
                text = truncate_tweet(text)
            else:
                notes.append(f"the real run would fail: {tweet_length(text)} characters, over 280 (set truncate)")
        return Preview(action="POST", destination=input.api_base.rstrip("/") + "/2/tweets",
                       payload={"text": text}, notes=notes)


# LinkedIn ------------------------------------------------------------------------------------
class LinkedInPost(Block):
    id = "linkedin_post"
    name = "LinkedIn Post"
    description = (
        "Publish a text post on LinkedIn (POST /v2/ugcPosts) as a member or organization: "
        "`autogpt credentials set linkedin token=... author=urn:li:person:...` (or "
        "LINKEDIN_ACCESS_TOKEN and LINKEDIN_AUTHOR_URN; `integration` names another provider). "
        "At most 3000 characters. Outputs the post's URN."
    )
    categories = (BlockCategory.SOCIAL,)
    credentials = ("linkedin",)
    cacheable = False

    class Input(BaseModel):
        text: str = Field(min_length=1, description="The post's text")
        visibility: Literal["PUBLIC", "CONNECTIONS"] = Field(default="PUBLIC", description="Who can see it")
        author: str | None = Field(default=None, description="Author URN (default: the credentials' author)")
        integration: str = Field(default="linkedin", description="Credentials provider holding token and author")
        api_base: str = Field(default="https://api.linkedin.com", description="LinkedIn API base URL")

    class Output(BaseModel):
        id: str = Field(description="URN of the new post, e.g. urn:li:share:123")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        text = input.text.strip()
        if len(text) > LINKEDIN_MAX_CHARS:
            raise ToolError(f"LinkedIn posts are limited to {LINKEDIN_MAX_CHARS} characters, this one has {len(text)}")
        provider = input.integration.strip().lower() or "linkedin"
        creds = _token(ctx, provider)
        author = input.author or creds.get("author")
        if not author:
            raise CredentialsMissingError(provider, ("author",))
        if not author.startswith("urn:li:"):
            raise ConfigError(f"LinkedIn author must be a URN like urn:li:person:abc123, not {author[:40]!r}")
        body = {
            "author": author,
            "lifecycleState": "PUBLISHED",
            "specificContent": {
                "com.linkedin.ugc.ShareContent": {
                    "shareCommentary": {"text": text},
                    "shareMediaCategory": "NONE",
                }
            },
            "visibility": {"com.linkedin.ugc.MemberNetworkVisibility": input.visibility},
        }
        response = await send(
            ctx, "linkedin_post", "POST", input.api_base.rstrip("/") + "/v2/ugcPosts", creds, json=body,
            headers={"Authorization": f"Bearer {creds['token']}", "X-Restli-Protocol-Version": "2.0.0"},
        )
        if response.status_code == 401:
            raise _auth_failure(provider, 401, error_detail(response, creds))
        if response.status_code >= 400:
            raise ToolError(
                f"LinkedIn refused the post (HTTP {response.status_code}: {error_detail(response, creds)})"
            )
        post_id = response.headers.get("x-restli-id")
        if not post_id:
            try:
                post_id = str(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                raise ToolError("LinkedIn accepted the request but its answer has no post id") from None
        yield "id", scrub(post_id, creds)

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        provider = input.integration.strip().lower() or "linkedin"
        creds, notes = credentials_note(ctx, provider, "token")
        text = input.text.strip()
        if len(text) > LINKEDIN_MAX_CHARS:
            notes.append(f"the real run would fail: {len(text)} characters, over {LINKEDIN_MAX_CHARS}")
        payload = {"author": input.author or creds.get("author") or "(credentials' author)", "text": text,
                   "visibility": input.visibility}
        return Preview(action="POST", destination=input.api_base.rstrip("/") + "/v2/ugcPosts", payload=payload,
                       notes=notes)


__all__ = ["LinkedInPost", "RedditFetch", "TwitterPost"]
