"""Node output cache: sha256(block id, block version, canonical JSON of the validated input).

One JSON file per key under `<workflows>/cache/<key[:2]>/<key>.json`, written atomically, holding
every emission in order so a hit replays streams exactly. Blocks with `cacheable = False` never
use it (the engine checks that).
"""

from __future__ import annotations

import hashlib
import json
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

    def put(self, key: str, block: type[Block], emissions: list[tuple[str, Any]]) -> None:
        path = self._path(key)
        private_dir(path.parent)
        write_json_atomic(path, {"block": block.id, "version": block.version, "emissions": emissions})
