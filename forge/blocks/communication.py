"""Communication blocks: email (SMTP), Slack, Discord.

Webhook URLs are secrets (anyone holding one can post), as are tokens and passwords: none of them
may appear in an output or an error. HTTP failures are therefore reported by status and host only,
and every message passes through `scrub` with the provider's credential values.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Preview
from forge.errors import ConfigError, ToolError

USER_AGENT = "autogpt-cli/0.1 (workflow block)"
SLACK_API = "https://slack.com/api"
DISCORD_MAX_CHARS = 2000

# Tests set this to an httpx.MockTransport; None means the real network.
_transport: httpx.AsyncBaseTransport | None = None


# Shared HTTP helpers (social.py uses them too) ------------------------------------------------
def http_client(ctx: BlockContext, **kwargs: Any) -> httpx.AsyncClient:
    """A client for service APIs. Their base URLs can arrive through a workflow edge (model or page
    output), so the real network goes through the SSRF guard like the web blocks."""
    from forge.security.guarded_http import guarded_async_client

    timeout = getattr(ctx.settings, "web_timeout", 20.0)
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    if _transport is not None:
        return httpx.AsyncClient(transport=_transport, timeout=timeout, headers=headers, **kwargs)
    allowlist = getattr(ctx.settings, "web_allowlist", ())
    return guarded_async_client(allowlist, timeout=timeout, headers=headers, **kwargs)


def scrub(text: str, secrets: Mapping[str, Any] | None = None, limit: int = 300) -> str:
    """One line of `text` with every credential value (>= 4 chars) replaced by [REDACTED]."""
    for value in sorted((str(v) for v in (secrets or {}).values()), key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "[REDACTED]")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Header names whose values are credentials: a dry run shows them as [REDACTED].
_SECRET_HEADER = ("authorization", "cookie", "token", "key", "secret", "password", "signature")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: "[REDACTED]" if any(w in k.lower() for w in _SECRET_HEADER) else v for k, v in headers.items()}


def credentials_note(ctx: BlockContext, provider: str, *fields: str) -> tuple[dict[str, str], list[str]]:
    """The provider's credentials for a preview, and a note when the real run would stop on them."""
    creds = ctx.credentials.get(provider) or {}
    if not creds or (fields and not any(creds.get(f) for f in fields)):
        from forge.blocks.credentials import CredentialsMissingError

        return {}, [f"the real run would fail: {CredentialsMissingError(provider, fields)}"]
    return creds, []


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


async def send(
    ctx: BlockContext, what: str, method: str, url: str, secrets: Mapping[str, Any], **kwargs: Any
) -> httpx.Response:
    """One HTTP request; transport failures become a ToolError naming only the host."""
    try:
        async with http_client(ctx) as client:
            return await client.request(method, url, **kwargs)
    except httpx.HTTPError as e:
        # httpx messages can embed the URL (a webhook URL is a secret): keep the type and the host.
        detail = scrub(str(e), {**secrets, "_url": url}) if str(e) else type(e).__name__
        raise ToolError(f"{what}: request to {host_of(url)} failed ({detail})") from None


def error_detail(response: httpx.Response, secrets: Mapping[str, Any]) -> str:
    """A short reason from an error response: its JSON message fields, else its text."""
    try:
        body = response.json()
    except ValueError:
        return scrub(response.text, secrets, 160)
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "title"):
            if body.get(key):
                value = body[key]
                return scrub(value if isinstance(value, str) else str(value), secrets, 160)
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return scrub(str(errors[0].get("message") or errors[0]), secrets, 160)
    return scrub(str(body), secrets, 160)


# Email ---------------------------------------------------------------------------------------
def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class SendEmail(Block):
    id = "send_email"
    name = "Send Email"
    description = (
        "Send an email over SMTP. Server and login come from `autogpt credentials set smtp host=... "
        "port=587 username=... password=... sender=...` (or SMTP_HOST, SMTP_PORT, SMTP_USERNAME, "
        "SMTP_PASSWORD, SMTP_FROM). STARTTLS is used on port 587 and implicit TLS on 465 unless the "
        "credentials set starttls=/ssl=. Outputs the Message-ID."
    )
    categories = (BlockCategory.COMMUNICATION,)
    credentials = ("smtp",)
    cacheable = False
    main_input = "body"

    class Input(BaseModel):
        to: str | list[str] = Field(description="Recipient address, or a list of addresses")
        subject: str = Field(default="", description="Subject line")
        body: str = Field(description="Plain-text body")
        html: str | None = Field(default=None, description="Optional HTML version of the body")

    class Output(BaseModel):
        message_id: str = Field(description="The Message-ID header of the sent mail")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        creds = ctx.credentials.require("smtp", "host")
        recipients = [input.to] if isinstance(input.to, str) else list(input.to)
        recipients = [r.strip() for part in recipients for r in part.split(",") if r.strip()]
        if not recipients or any("@" not in parseaddr(r)[1] for r in recipients):
            raise ToolError(f"invalid recipient list {input.to!r}; give addresses like name@example.com")
        try:
            port = int(creds.get("port") or 587)
        except ValueError:
            raise ConfigError(f"smtp port {creds.get('port')!r} is not a number; fix it with "
                              "`autogpt credentials set smtp port=587`") from None
        sender = creds.get("sender") or creds.get("username") or ""
        if "@" not in sender:
            raise ConfigError(
                "smtp credentials need a sender address: `autogpt credentials set smtp sender=me@example.com`"
            )
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = input.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
        msg.set_content(input.body)
        if input.html:
            msg.add_alternative(input.html, subtype="html")
        timeout = float(getattr(ctx.settings, "web_timeout", 20.0))
        await asyncio.to_thread(self._send, creds, port, msg, recipients, timeout)
        yield "message_id", str(msg["Message-ID"])

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        creds, notes = credentials_note(ctx, "smtp", "host")
        recipients = [input.to] if isinstance(input.to, str) else list(input.to)
        server = f"{creds['host']}:{creds.get('port') or 587}" if creds else "SMTP server (not configured)"
        payload = {"from": creds.get("sender") or creds.get("username") or "", "to": recipients,
                   "subject": input.subject, "body": input.body, **({"html": input.html} if input.html else {})}
        return Preview(action="send email to", destination=f"{', '.join(recipients)} via {server}", payload=payload,
                       notes=notes)

    @staticmethod
    def _send(creds: Mapping[str, str], port: int, msg: EmailMessage, to: list[str], timeout: float) -> None:
        host = creds["host"]
        use_ssl = _flag(creds.get("ssl"), port == 465)
        use_starttls = not use_ssl and _flag(creds.get("starttls"), port == 587)
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP = (
                smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
                if use_ssl
                else smtplib.SMTP(host, port, timeout=timeout)
            )
            with smtp:
                if use_starttls:
                    smtp.starttls(context=context)
                if creds.get("username") and creds.get("password"):
                    smtp.login(creds["username"], creds["password"])
                smtp.send_message(msg, to_addrs=to)
        except smtplib.SMTPAuthenticationError:
            raise ConfigError(
                f"SMTP login to {host}:{port} was refused; "
                "check `autogpt credentials set smtp username=... password=...`"
            ) from None
        except smtplib.SMTPRecipientsRefused as e:
            raise ToolError(f"SMTP server {host} refused the recipients {', '.join(e.recipients)}") from None
        except (smtplib.SMTPException, OSError) as e:
            reason = scrub(str(e) or type(e).__name__, creds)
            raise ToolError(f"sending email via {host}:{port} failed: {reason}") from None


# Slack ---------------------------------------------------------------------------------------
class SlackMessage(Block):
    id = "slack_message"
    name = "Slack Message"
    description = (
        "Post a message to Slack, through an incoming webhook (`autogpt credentials set slack "
        "webhook_url=...`, or SLACK_WEBHOOK_URL) or a bot token (`token=xoxb-...`, or SLACK_BOT_TOKEN; "
        "needs `channel`). Outputs ok and the message timestamp (empty for webhooks)."
    )
    categories = (BlockCategory.COMMUNICATION,)
    credentials = ("slack",)
    cacheable = False

    class Input(BaseModel):
        text: str = Field(min_length=1, description="Message text (Slack mrkdwn)")
        channel: str | None = Field(default=None, description="Channel id or #name (required with a bot token)")
        api_base: str = Field(default=SLACK_API, description="Slack Web API base URL (change for tests or proxies)")

    class Output(BaseModel):
        ok: bool = Field(description="True when Slack accepted the message")
        ts: str = Field(description="Timestamp id of the posted message (empty with a webhook)")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        creds = ctx.credentials.require("slack", "webhook_url", "token")
        payload: dict[str, Any] = {"text": input.text}
        if creds.get("token"):
            if not input.channel:
                raise ToolError("slack_message needs `channel` when posting with a bot token")
            payload["channel"] = input.channel
            url = input.api_base.rstrip("/") + "/chat.postMessage"
            headers = {"Authorization": f"Bearer {creds['token']}"}
        else:
            url, headers = creds["webhook_url"], {}
            if input.channel:
                payload["channel"] = input.channel  # honoured by legacy webhooks only
        response = await send(ctx, "slack_message", "POST", url, creds, json=payload, headers=headers)
        if response.status_code >= 400:
            raise ToolError(
                f"Slack answered HTTP {response.status_code}: {error_detail(response, creds)}"
            )
        if creds.get("token"):
            try:
                body = response.json()
            except ValueError:
                raise ToolError("Slack answered with something that is not JSON") from None
            if not body.get("ok"):
                raise ToolError(f"Slack refused the message: {scrub(str(body.get('error') or 'unknown error'), creds)}")
            yield "ok", True
            yield "ts", str(body.get("ts") or "")
        else:
            yield "ok", True
            yield "ts", ""

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        creds, notes = credentials_note(ctx, "slack", "webhook_url", "token")
        payload: dict[str, Any] = {"text": input.text, **({"channel": input.channel} if input.channel else {})}
        if creds.get("token"):
            if not input.channel:
                notes.append("the real run would fail: a bot token needs `channel`")
            destination = input.api_base.rstrip("/") + "/chat.postMessage (bot token)"
        else:
            destination = "Slack incoming webhook (its URL is a secret, not shown)"
        return Preview(action="POST", destination=destination, payload=payload, notes=notes)


# Discord -------------------------------------------------------------------------------------
class DiscordWebhook(Block):
    id = "discord_webhook"
    name = "Discord Webhook"
    description = (
        "Post a message to a Discord channel through its webhook (`autogpt credentials set discord "
        "webhook_url=...`, or DISCORD_WEBHOOK_URL). At most 2000 characters. Outputs the HTTP status."
    )
    categories = (BlockCategory.COMMUNICATION,)
    credentials = ("discord",)
    cacheable = False

    class Input(BaseModel):
        content: str = Field(min_length=1, description="Message text (Discord markdown, at most 2000 characters)")
        username: str | None = Field(default=None, description="Override the webhook's display name")

    class Output(BaseModel):
        status: int = Field(description="HTTP status Discord answered (204 on success)")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        creds = ctx.credentials.require("discord", "webhook_url")
        if len(input.content) > DISCORD_MAX_CHARS:
            raise ToolError(
                f"Discord messages are limited to {DISCORD_MAX_CHARS} characters, this one has "
                f"{len(input.content)}; shorten it upstream"
            )
        payload: dict[str, Any] = {"content": input.content}
        if input.username:
            payload["username"] = input.username
        url = creds["webhook_url"]
        response = await send(ctx, "discord_webhook", "POST", url, creds, json=payload)
        if response.status_code >= 400:
            raise ToolError(f"Discord answered HTTP {response.status_code}: {error_detail(response, creds)}")
        yield "status", response.status_code

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        _, notes = credentials_note(ctx, "discord", "webhook_url")
        if len(input.content) > DISCORD_MAX_CHARS:
            notes.append(f"the real run would fail: {len(input.content)} characters, over Discord's "
                         f"{DISCORD_MAX_CHARS}")
        payload = {"content": input.content, **({"username": input.username} if input.username else {})}
        return Preview(action="POST", destination="Discord webhook (its URL is a secret, not shown)",
                       payload=payload, notes=notes)


__all__ = ["DiscordWebhook", "SendEmail", "SlackMessage"]
