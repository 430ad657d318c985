"""Block registry: built-ins and plugins through forge.plugins (`register_blocks`), plus a user folder.

A `.py` file in `--blocks-dir` may expose Block subclasses at module level, a list of them, or a
callable returning either.
"""

from __future__ import annotations

import difflib
import inspect
import types
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge.blocks.base import Block
from forge.errors import ConfigError

if TYPE_CHECKING:
    from forge.plugins import Plugins


class BlockRegistry:
    """Block id -> Block class."""

    def __init__(self, blocks: Iterable[type[Block]] = ()):
        self._blocks: dict[str, type[Block]] = {}
        for b in blocks:
            self.register(b)

    def register(self, block: type[Block]) -> type[Block]:
        if not (isinstance(block, type) and issubclass(block, Block)) or not getattr(block, "id", None):
            raise ConfigError(f"{block!r} is not a Block subclass with an `id`; fix the block's definition")
        self._blocks[block.id] = block
        return block

    def get(self, block_id: str) -> type[Block] | None:
        return self._blocks.get(block_id)

    def ids(self) -> list[str]:
        return sorted(self._blocks)

    def closest(self, block_id: str, n: int = 3) -> list[str]:
        """Ids resembling an unknown one, for "did you mean" messages."""
        return difflib.get_close_matches(block_id, self.ids(), n=n, cutoff=0.5)

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._blocks

    def __iter__(self) -> Iterator[type[Block]]:
        return iter(self._blocks[i] for i in self.ids())

    def __len__(self) -> int:
        return len(self._blocks)

    def register_object(self, obj: Any) -> None:
        """Register what a module, entry point or file exposes."""
        if isinstance(obj, types.ModuleType):
            for _, member in inspect.getmembers(obj, inspect.isclass):
                # Only blocks defined (or re-exported on purpose via __all__) in that module.
                exported = getattr(obj, "__all__", None)
                if issubclass(member, Block) and member is not Block and getattr(member, "id", None):
                    if exported is None and member.__module__ != obj.__name__:
                        continue
                    if exported is not None and member.__name__ not in exported:
                        continue
                    self.register(member)
            return
        if isinstance(obj, type):
            self.register(obj)
            return
        if callable(obj):
            obj = obj()
        for b in obj if isinstance(obj, list | tuple) else [obj]:
            self.register(b)

    def load_dir(self, folder: Path) -> None:
        """Load every `*.py` file of a user folder (`--blocks-dir`) as a module of blocks."""
        from forge.plugins import import_folder

        for _, module in import_folder(folder, "autogpt_user_blocks", "--blocks-dir", "block"):
            self.register_object(module)

    @classmethod
    def from_plugins(cls, plugins: Plugins | None = None, blocks_dir: Path | None = None) -> BlockRegistry:
        """Built-ins and installed plugins' blocks (forge.plugins), plus a user folder of block files."""
        from forge.plugins import get_plugins

        registry = cls(entry.obj for entry in (plugins or get_plugins()).blocks().values())
        if blocks_dir is not None:
            registry.load_dir(blocks_dir)
        return registry

    @classmethod
    def from_entry_points(cls, blocks_dir: Path | None = None) -> BlockRegistry:
        """The name callers used before forge.plugins."""
        return cls.from_plugins(blocks_dir=blocks_dir)
