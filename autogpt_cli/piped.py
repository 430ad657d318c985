"""Output width when stdout is not a terminal (shared by `autogpt` and `./run`)."""

from __future__ import annotations

import os
import sys

PIPED_COLUMNS = 200
PIPED_HELP_COLUMNS = 120


def widen_when_piped() -> None:
    """rich wraps output that is not a terminal at 80 columns: piped into grep or a file, table rows and
    long lines stay whole instead. Help panels fill their width, so they get a narrower one."""
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        os.environ["COLUMNS"] = str(PIPED_COLUMNS)
        os.environ.setdefault("TERMINAL_WIDTH", str(PIPED_HELP_COLUMNS))  # read by typer's help
