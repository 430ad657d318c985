"""A fix for Typer's rich help: plain flags (`--continuous`) were listed with a `<bool>` type.

Typer 0.2x's `TyperOption.display_type_rich` returns a type for every option, flags included, and
the rich help table prints it, as if the flag took a value. The plain-text help already skips flags;
this makes the rich table do the same for every command of the CLI.
"""

from __future__ import annotations

from typing import Any


def hide_flag_types() -> None:
    from typer.core import TyperOption

    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_autogpt_flags_hidden", False):
        return  # a Typer without that method (older or fixed ones)

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if self.is_flag and not self.count and self.metavar is None:
            return None  # a flag takes no value: no type to show
        return original(self, ctx)

    display_type_rich._autogpt_flags_hidden = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
