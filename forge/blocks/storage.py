"""Storage blocks: SQL through SQLAlchemy (SQLite by default) and Redis.

SQL always goes through `text()` with bound parameters: values are never formatted into the
statement. Database URLs and Redis URLs may carry passwords, so they are scrubbed from every error.

SQLite stays inside the workflow's files folder unless the user chose otherwise: a SQLite URL in
node input or config is resolved there (relative paths) and refused when it points elsewhere;
only the `database` credentials' URL may name any file. Statements cannot reach other files
either: every SQLite connection we open denies ATTACH (also what VACUUM INTO uses),
load_extension() and the directory pragmas, through sqlite3's authorizer.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, Effect, Preview
from forge.blocks.files import workspace_root
from forge.errors import ConfigError, PathOutsideWorkspaceError, ToolError
from forge.tools.workspace import resolve_in_workspace

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
    """The input's URL (SQLite confined to the files folder), else the `database` credentials'
    `url` (the user's choice, unrestricted), else SQLite in the files folder."""
    if url:
        return _confined_sqlite_url(url, ctx)
    creds = ctx.credentials.get("database") or {}
    if creds.get("url"):
        return creds["url"]
    return f"sqlite:///{workspace_root(ctx) / DEFAULT_DB_FILE}"


def _shown_database(url: str | None, ctx: BlockContext) -> str:
    """Where a statement would go, for a dry run: no password, no reading of anything."""
    if url:
        return _scrub(url)
    creds = ctx.credentials.get("database") or {}
    if creds.get("url"):
        return _scrub(creds["url"], creds.get("password"))
    return f"SQLite {DEFAULT_DB_FILE} in the workflow's files folder"


# Statements that only read: a dry run treats them like other reads (stubbed unless --live-reads).
_READ_ONLY_SQL = re.compile(r"^\s*(SELECT|EXPLAIN|SHOW|DESCRIBE|VALUES)\b", re.IGNORECASE)


def _bad_url(url: str, why: str) -> ConfigError:
    return ConfigError(
        f"cannot use database URL: {_scrub(why, url)}; give a SQLAlchemy URL such as "
        "sqlite:///data.db or postgresql+psycopg://user:pass@host/db (and install its driver)"
    )


def _confined_sqlite_url(url: str, ctx: BlockContext) -> str:
    """A SQLite URL from node input with its file resolved inside the files folder; other
    databases are returned unchanged (they are servers, not host files)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise _bad_url(url, str(e)) from None
    if parsed.get_backend_name() != "sqlite":
        return url
    # `uri=true` would let the file name be a file: URI (another path, vfs, ...); none are needed here.
    options = sorted(set(parsed.query) - {"timeout"})
    if options:
        raise ConfigError(f"SQLite URL option {', '.join(options)} is not allowed in node input; drop it "
                          "(or put the URL in `autogpt credentials set database url=...`)")
    database = parsed.database or ""
    if database in ("", ":memory:"):
        return url  # in memory: no file at all
    root = workspace_root(ctx)
    try:
        if Path(database).is_absolute():
            target = Path(database).resolve()
            if not target.is_relative_to(root):
                raise PathOutsideWorkspaceError(database)
        else:
            target = resolve_in_workspace(root, database)
    except ToolError:
        raise ConfigError(
            f"SQLite database {database!r} is outside the workflow's files folder; use a path inside it such "
            "as sqlite:///data.db, or set your own URL with `autogpt credentials set database url=...`"
        ) from None
    if target.is_dir():
        raise ConfigError(f"SQLite database {database!r} is a folder; name a file, e.g. sqlite:///data.db")
    target.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(target)).render_as_string(hide_password=False)


# sqlite3 authorizer: what no statement may do, whoever chose the database.
_DENIED_PRAGMAS = frozenset({"temp_store_directory", "data_store_directory"})
_DENIED_FUNCTIONS = frozenset({"load_extension"})


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    import sqlite3

    if action == sqlite3.SQLITE_ATTACH:  # ATTACH DATABASE and VACUUM INTO open another file
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _DENIED_PRAGMAS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _lock_down_sqlite(dbapi_connection: Any, _record: Any) -> None:
    import sqlite3

    if hasattr(dbapi_connection, "setlimit"):  # Python 3.11+: no attached databases at all
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    dbapi_connection.set_authorizer(_authorize)


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as e:
        raise _bad_url(url, str(e)) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _lock_down_sqlite)
    return engine


def _db_error(e: Exception, url: str) -> ToolError:
    # The driver's message without SQLAlchemy's appended statement/params dump and doc link.
    reason = str(getattr(e, "orig", None) or e).split("\n[SQL:")[0]
    if "not authorized" in reason or "authorization denied" in reason or "too many attached" in reason:
        reason += (" (statements may not open other files or load extensions: ATTACH, VACUUM INTO and "
                   "load_extension are refused)")
    return ToolError(f"database error: {_scrub(reason, url)}")


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
        url: str | None = Field(
            default=None, description="SQLAlchemy database URL (default: SQLite db.sqlite in the files folder; "
            "a SQLite file here must be inside that folder)")
        max_rows: int = Field(default=MAX_ROWS, ge=1, le=100_000, description="Return at most this many rows")

    class Output(BaseModel):
        rows: list[dict[str, Any]] = Field(description="Result rows, one object per row (empty for writes)")
        rowcount: int = Field(description="Rows returned, or rows affected by a write")

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:  # noqa: A002
        url = _database_url(input.url, ctx)
        rows, count = await asyncio.to_thread(self._execute, url, input.query, _bind(input.params), input.max_rows)
        yield "rows", rows
        yield "rowcount", count

    @classmethod
    def effect_for(cls, input: Input | None) -> Effect:  # noqa: A002
        return Effect.READ if input is not None and _READ_ONLY_SQL.match(input.query) else Effect.WRITE

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        return Preview(action="execute SQL", destination=_shown_database(input.url, ctx),
                       payload={"query": input.query, "params": input.params})

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
            raise _db_error(e, url) from None
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
        url: str | None = Field(
            default=None, description="SQLAlchemy database URL (default: SQLite db.sqlite in the files folder; "
            "a SQLite file here must be inside that folder)")

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

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        record = input.record.model_dump(mode="json") if isinstance(input.record, BaseModel) else input.record
        where = f"table {input.collection} in {_shown_database(input.url, ctx)}"
        return Preview(action="insert row into", destination=where, payload=record)

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
            raise _db_error(e, url) from None
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
    effect = Effect.READ

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

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        from forge.blocks.communication import credentials_note

        creds, notes = credentials_note(ctx, "redis", "url")
        where = _scrub(creds["url"]) if creds.get("url") else "Redis (not configured)"
        payload = {"key": input.key, "value": input.value, **({"ttl": input.ttl} if input.ttl else {})}
        return Preview(action="SET", destination=where, payload=payload, notes=notes)


__all__ = ["DatabaseLog", "DatabaseQuery", "RedisGet", "RedisSet"]
