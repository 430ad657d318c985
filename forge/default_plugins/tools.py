"""Built-in agent tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forge.plugins import hookimpl


@hookimpl
def register_tools(register: Callable[..., Any]) -> None:
    from forge.tools import builtin, memory_tools
    from forge.tools.base import Tool

    for module in (builtin, memory_tools):
        for attr in getattr(module, "__all__", None) or dir(module):
            obj = getattr(module, attr)
            if isinstance(obj, Tool):
                register(obj)
