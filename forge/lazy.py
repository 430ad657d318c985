"""Lazy re-exports for a package's `__init__`: names are imported on first use, so importing the
package stays cheap (`autogpt --help` must stay instant)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level `__getattr__` and `__dir__` for PACKAGE, whose EXPORTS map a public name to the
    module defining it (absolute, or relative to PACKAGE with a leading dot). A resolved name is cached
    in NAMESPACE (the package's globals) so the next access is a plain lookup."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
