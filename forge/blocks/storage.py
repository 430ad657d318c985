"""Storage blocks: SQL through SQLAlchemy (SQLite by default) and Redis.

SQL always goes through `text()` with bound parameters: values are never formatted into the
statement. Database URLs and Redis URLs may carry passwords, so they are scrubbed from every error.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput
from forge.errors import ConfigError, ToolError
from forge.security.permissions import private_dir

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_DB_FILE = "db.sqlite"
MAX_ROWS = 1000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# Helpers -------------------------------------------------------------------------------------
def _scrub(text: str, *secrets: str | None) -> str:
    """`text` without any of `secrets` (URLs with passwords, tokens) and without URL passwords."""
    for s in secrets:
        if s:
            text = text.replace(s, "[REDACTED]")
    # scheme://user:password@host -> scheme://user:***@host, whatever URL it was
    text = re.sub(r"(\w+://[^/\s:@]*:)[^@\s/]+@", r"\1***@", text)
    return " ".join(text.split())[:300]


def _jsonable(value: Any) -> Any:
    """Database values as JSON-friendly Python (rows travel between blocks and into run logs)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _database_url(url: str | None, ctx: BlockContext) -> str:
    """The input's URL, else the `database` credentials' `url`, else SQLite in the workspace."""
    if url:
        return url
    creds = ctx.credentials.get("database") or {}
    if creds.get("url"):
        return creds["url"]
    private_dir(ctx.workspace, root=ctx.settings.workspace)
    return f"sqlite:///{(ctx.workspace / DEFAULT_DB_FILE).resolve()}"


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        return create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as e:
        raise ConfigError(
            f"cannot use database URL: {_scrub(str(e), url)}; give a SQLAlchemy URL such as "
            "sqlite:///data.db or postgresql+psycopg://user:pass@host/db (and install its driver)"
        ) from None


def _bind(params: dict[str, Any] | list[Any] | None) -> dict[str, Any] | list[dict[str, Any]]:
    """Bound parameters for `text()`: a dict binds `:name`; a list of values binds `:1`, `:2`, ...;
    a list of objects runs the statement once per object (executemany)."""
    if params is None:
        return {}
    if isinstance(params, dict):
        return params
    if params and all(isinstance(p, dict) for p in params):
        return list(params)
    if any(isinstance(p, dict) for p in params):
        raise ToolError("params must be an object, a list of values, or a list of objects, not a mix")
    return {str(i): v for i, v in enumerate(params, 1)}


# SQL -----------------------------------------------------------------------------------------
class DatabaseQuery(Block):
    id = "database_query"
    name = "Database Query"
    description = (
        "Run one SQL statement (SELECT, INSERT, UPDATE, DDL, ...) with bound parameters on a SQL "
        "database. Default: the SQLite file db.sqlite in the workflow's files folder; any SQLAlchemy "
        "URL works (input `url`, or `autogpt credentials set database url=...`). Outputs the rows "
        "as a list of objects and the number of rows returned or affected."
    )
    categories = (BlockCategory.STORAGE,)
    credentials = ("database",)
    cacheable = False  # statements may write, and reads must see fresh data

    class Input(BaseModel):
        query: str = Field(description="SQL with named placeholders, e.g. SELECT * FROM t WHERE id = :id")
        params: dict[str, Any] | list[Any] | None = Field(
            default=None,
            description="Values for the placeholders: {\"id\": 3}; a list binds :1, :2, ... in order; "
            "a list of objects runs the statement once per object",
        )
        url: str | None = Field(default=None, description="SQLAlchemy database URL (default: SQLite in the workspace)")
        max_rows: int = Field(default=MAX_ROWS, ge=1, le=100_000, description="Return at most this many rows")

    class Output(BaseModel):
        rows: list[dict[str, Any]] = Field(description="Result rows, one object per row (empty for writes)")
        rowcount: int = Field(description="Rows returned, or rows affected by a write")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        url = _database_url(input.url, ctx)
        rows, count = await asyncio.to_thread(self._execute, url, input.query, _bind(input.params), input.max_rows)
        yield "rows", rows
        yield "rowcount", count

    @staticmethod
    def _execute(url: str, query: str, params: Any, max_rows: int) -> tuple[list[dict[str, Any]], int]:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        engine = _engine(url)
        try:
            with engine.begin() as conn:  # commits on success: writes are allowed
                result = conn.execute(text(query), params)
                if result.returns_rows:
                    rows = [{k: _jsonable(v) for k, v in r._mapping.items()} for r in result.fetchmany(max_rows)]
                    return rows, len(rows)
                return [], max(result.rowcount, 0)
        except SQLAlchemyError as e:
            # The driver's message without SQLAlchemy's appended statement/params dump and doc link.
            reason = str(getattr(e, "orig", None) or e).split("\n[SQL:")[0]
            raise ToolError(f"database error: {_scrub(reason, url)}") from None
        finally:
            engine.dispose()


class DatabaseLog(Block):
    id = "database_log"
    name = "Database Log"
    description = (
        "Append a record (any JSON value) to a log table in a SQL database, creating the table "
        "(id, ts, data) when missing. Default database: SQLite db.sqlite in the workflow's files "
        "folder. Outputs the new row's id."
    )
    categories = (BlockCategory.STORAGE,)
    credentials = ("database",)
    cacheable = False

    class Input(BaseModel):
        record: Any = Field(description="What to log: text, an object, a list, ...")
        collection: str = Field(default="workflow_log", description="Table name (letters, digits, _)")
        url: str | None = Field(default=None, description="SQLAlchemy database URL (default: SQLite in the workspace)")

    class Output(BaseModel):
        id: int = Field(description="Id of the inserted row")
        collection: str = Field(description="The table written to")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        if not _IDENTIFIER.match(input.collection):
            raise ToolError(
                f"invalid collection name {input.collection[:70]!r}: use letters, digits and _ "
                "(not starting with a digit, at most 63 characters)"
            )
        url = _database_url(input.url, ctx)
        record = input.record.model_dump(mode="json") if isinstance(input.record, BaseModel) else input.record
        try:
            data = json.loads(json.dumps(record, default=str))
        except ValueError as e:
            raise ToolError(f"record is not JSON-serialisable: {e}") from None
        row_id = await asyncio.to_thread(self._insert, url, input.collection, data)
        yield "id", row_id
        yield "collection", input.collection

    @staticmethod
    def _insert(url: str, collection: str, data: Any) -> int:
        from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, Table
        from sqlalchemy.exc import SQLAlchemyError

        # A Table object quotes the (validated) name: no identifier ever goes into SQL by hand.
        table = Table(
            collection,
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("ts", DateTime(timezone=True), nullable=False),
            Column("data", JSON),
        )
        engine = _engine(url)
        try:
            with engine.begin() as conn:
                table.create(conn, checkfirst=True)
                result = conn.execute(table.insert().values(ts=dt.datetime.now(dt.UTC), data=data))
                key = result.inserted_primary_key
                return int(key[0]) if key else 0
        except SQLAlchemyError as e:
            reason = str(getattr(e, "orig", None) or e).split("\n[SQL:")[0]
            raise ToolError(f"database error: {_scrub(reason, url)}") from None
        finally:
            engine.dispose()


# Redis ---------------------------------------------------------------------------------------
def _client(url: str) -> Redis:
    """A Redis client for `url`. The seam tests replace (with fakeredis)."""
    from redis.asyncio import Redis

    return Redis.from_url(url, decode_responses=True)


def _redis_url(ctx: BlockContext) -> str:
    return ctx.credentials.require("redis", "url")["url"]


async def _redis_call(url: str, op: str, func: Any) -> Any:
    from redis.exceptions import RedisError

    client = _client(url)
    try:
        return await func(client)
    except RedisError as e:
        raise ToolError(f"redis {op} failed: {_scrub(str(e) or type(e).__name__, url)}") from None
    finally:
        await client.aclose()


class RedisGet(Block):
    id = "redis_get"
    name = "Redis Get"
    description = (
        "Read a key from Redis (REDIS_URL or `autogpt credentials set redis url=redis://...`). "
        "Outputs the value as text (null when absent) and whether the key exists."
    )
    categories = (BlockCategory.STORAGE,)
    credentials = ("redis",)
    cacheable = False  # the value can change at any time

    class Input(BaseModel):
        key: str = Field(min_length=1, description="The key to read")

    class Output(BaseModel):
        value: str | None = Field(description="The stored text, or null when the key does not exist")
        found: bool = Field(description="Whether the key exists")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        url = _redis_url(ctx)
        value = await _redis_call(url, "GET", lambda r: r.get(input.key))
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        yield "value", value
        yield "found", value is not None


class RedisSet(Block):
    id = "redis_set"
    name = "Redis Set"
    description = (
        "Store a value under a key in Redis, optionally expiring after `ttl` seconds. Text is "
        "stored as is; other values as JSON. Outputs the key."
    )
    categories = (BlockCategory.STORAGE,)
    credentials = ("redis",)
    cacheable = False
    main_input = "value"

    class Input(BaseModel):
        key: str = Field(min_length=1, description="The key to write")
        value: Any = Field(description="Text, or any JSON value (stored as JSON)")
        ttl: int | None = Field(default=None, ge=1, description="Expire after this many seconds")

    class Output(BaseModel):
        key: str = Field(description="The key written")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        url = _redis_url(ctx)
        value = input.value if isinstance(input.value, str) else json.dumps(input.value, default=str)
        await _redis_call(url, "SET", lambda r: r.set(input.key, value, ex=input.ttl))
        yield "key", input.key


__all__ = ["DatabaseLog", "DatabaseQuery", "RedisGet", "RedisSet"]
