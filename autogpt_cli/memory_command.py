"""`autogpt memory add|search|list|delete|clear`: open the store, call it, render (rich tables or JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from forge.config import Settings
from forge.errors import ConfigError
from forge.memory.store import MemoryHit, MemoryStore
from forge.security.secrets import workspace_redactor
from forge.security.untrusted_text import terminal_safe

ID_SHOWN = 8  # id characters `memory list` shows; `memory delete` takes any unique prefix


def _shown(settings: Settings, hits: list[MemoryHit]) -> list[MemoryHit]:
    """Hits as they may be printed: known secrets redacted (memories written before a key was
    known, or by another tool, may hold one)."""
    redactor = workspace_redactor(settings.workspace)
    return [MemoryHit(h.id, redactor.text(h.text), h.score, redactor.data(h.metadata)) for h in hits]


def _cell(value: Any) -> Text:
    return Text(terminal_safe(value))  # Text, not a str: no markup is read from stored text


@contextmanager
def _open(settings: Settings, *, writer: bool, allow_mismatch: bool = False) -> Iterator[MemoryStore]:
    from forge.memory.embeddings import MiniLMEmbedder, get_embedder

    embedder = get_embedder(settings.embedding_model, settings)
    err = Console(stderr=True)
    if isinstance(embedder, MiniLMEmbedder) and err.is_terminal:
        with err.status("Loading the embedding model...", spinner="dots"):
            embedder.load()
    # Error messages name the option these commands take to pick the agent.
    store = MemoryStore.open(settings, embedder=embedder, writer=writer, allow_mismatch=allow_mismatch,
                             agent_option="--agent")
    try:
        yield store
    finally:
        store.close()


def _when(meta: dict[str, Any]) -> str:
    ts = meta.get("ts")
    return datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M") if ts else ""


def _origin(meta: dict[str, Any]) -> str:
    run, step = meta.get("run_id"), meta.get("step")
    if not run:
        return ""
    return f"{run} #{step}" if step is not None else str(run)


def _json(hits: list[MemoryHit], with_id: bool = False) -> str:
    rows = [
        {**({"id": h.id} if with_id else {}), "text": h.text, "score": round(h.score, 4), "metadata": h.metadata}
        for h in hits
    ]
    return json.dumps(rows, indent=1, ensure_ascii=False)


def add_command(settings: Settings, text: str, kind: str) -> None:
    if not text.strip():
        raise ConfigError("the memory text is empty; pass the text to store, e.g. autogpt memory add \"...\"")
    text = workspace_redactor(settings.workspace).text(text.strip())  # a key typed here is not stored
    with _open(settings, writer=True) as store:
        memory_id = store.add(text, kind=kind, source="cli")
        total = store.count()
    Console().print(f"Stored memory {memory_id} ({total} in {settings.agent_name}'s memory).")


def search_command(settings: Settings, query: str, top_k: int, json_output: bool) -> None:
    with _open(settings, writer=False) as store:
        hits = _shown(settings, store.search(query, top_k=top_k))
    if json_output:
        print(_json(hits))
        return
    console = Console()
    if not hits:
        console.print(f"No memories for agent {settings.agent_name!r} match.", markup=False)
        return
    table = Table("#", Column("score", justify="right"), Column("memory", ratio=1), "kind",
                  Column("from", no_wrap=True))
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), f"{h.score:.3f}", _cell(h.text), _cell(h.metadata.get("kind", "")),
                      _cell(_origin(h.metadata)))
    console.print(table)


def list_command(settings: Settings, limit: int | None, kind: str | None, json_output: bool) -> None:
    # The embedder is not used to list, so a store built by another embedder still lists.
    with _open(settings, writer=False, allow_mismatch=True) as store:
        hits = _shown(settings, store.list(limit, kind=kind))
        total = store.count()
    if json_output:
        print(_json(hits, with_id=True))
        return
    console = Console()
    if not hits:
        console.print(f"No memories for agent {settings.agent_name!r} under {settings.memory_dir()}.", markup=False)
        return
    table = Table(Column("id", no_wrap=True), Column("when", no_wrap=True), "kind", Column("memory", ratio=1),
                  Column("from", no_wrap=True), title=f"{len(hits)} of {total} memories, newest first")
    for h in hits:
        table.add_row(h.id[:ID_SHOWN], _when(h.metadata), _cell(h.metadata.get("kind", "")), _cell(h.text),
                      _cell(_origin(h.metadata)))
    console.print(table)


def delete_command(settings: Settings, ids: list[str]) -> int:
    ids = [i.strip() for i in ids]
    if not all(ids):
        raise ConfigError("a memory id is empty; give the ids `autogpt memory list` shows")
    with _open(settings, writer=True, allow_mismatch=True) as store:
        deleted, missing = store.delete(ids)
        left = store.count()
    out = Console(highlight=False)
    if deleted:
        out.print(f"Deleted {len(deleted)} memories of agent {settings.agent_name!r} ({left} left).", markup=False)
    for given in missing:
        print(f"error: no memory {given!r} in agent {settings.agent_name!r}'s memory; "
              f"see `autogpt memory list --agent {settings.agent_name}`", file=sys.stderr)
    return 1 if missing else 0


def clear_command(settings: Settings, yes: bool) -> None:
    if not yes and not sys.stdin.isatty():
        raise ConfigError(
            f"refusing to clear the memory of agent {settings.agent_name!r} without confirmation "
            "(stdin is not a terminal); pass --yes"
        )
    with _open(settings, writer=True, allow_mismatch=True) as store:
        n = store.count()
        if not yes:
            import typer

            if not typer.confirm(f"Delete all {n} memories of agent {settings.agent_name!r}?", default=False):
                Console().print("Nothing deleted.")
                return
        removed = store.clear()
    Console().print(f"Deleted {removed} memories of agent {settings.agent_name!r}.")
