"""Node output cache: sha256(block id, block version, canonical JSON of the validated input).

One JSON file per key under `<workflows>/cache/<key[:2]>/<key>.json`, written atomically, holding
every emission in order so a hit replays streams exactly, and the workflow and node that wrote it
(so `autogpt workflow cache clear --workflow FILE` can find a workflow's entries; a hit is shared
by any workflow). Blocks with `cacheable = False` never use it (the engine checks that).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from forge.blocks.base import Block
from forge.runs.log import write_json_atomic
from forge.security.permissions import private_dir


def cache_key(block: type[Block], input: BaseModel) -> str:  # noqa: A002
    payload = json.dumps(
        [block.id, block.version, input.model_dump(mode="json")],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    block: str
    workflow: str | None  # None: written before entries recorded it
    node: str | None
    size: int


class OutputCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[tuple[str, Any]] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or damaged: recompute, the next put repairs it
        return [(str(name), value) for name, value in data.get("emissions", [])]

    def put(self, key: str, block: type[Block], emissions: list[tuple[str, Any]], *, workflow: str | None = None,
            node: str | None = None) -> None:
        path = self._path(key)
        private_dir(path.parent)
        write_json_atomic(path, {"block": block.id, "version": block.version, "workflow": workflow, "node": node,
                                 "emissions": emissions})

    def entries(self) -> Iterator[CacheEntry]:
        for path in sorted(self.root.glob("??/*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                meta = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                meta = {}  # damaged: listed (and cleared by --all) as of an unknown block
            try:
                size = path.stat().st_size
            except OSError:
                continue
            yield CacheEntry(path, str(meta.get("block") or "?"), meta.get("workflow"), meta.get("node"), size)

    def clear(self, workflow: str | None = None) -> list[CacheEntry]:
        """Delete every entry (workflow None) or those `workflow` wrote; return what was deleted."""
        removed = []
        for entry in self.entries():
            if workflow is not None and entry.workflow != workflow:
                continue
            try:
                entry.path.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
            try:
                entry.path.parent.rmdir()  # only when it became empty
            except OSError:
                pass
        return removed
