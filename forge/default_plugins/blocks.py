"""Built-in workflow blocks, and every agent tool as a `tool_<name>` block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forge.plugins import hookimpl


@hookimpl
def register_blocks(register: Callable[..., Any]) -> None:
    from forge.blocks import builtin
    from forge.blocks.adapters import tool_blocks

    for name in builtin.__all__:
        register(getattr(builtin, name))
    for block in tool_blocks():
        register(block)
