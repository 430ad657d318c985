"""Options shared by several commands (only typer is imported here: `--help` stays instant)."""

from __future__ import annotations

from typing import Annotated

import typer

# A string, not a Path: typer turns "" into ".", which would silently mean the current folder;
# Settings refuses an empty value with a clear message instead.
WorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace", help="Root of all agent data (default ./workspace; env AUTOGPT_WORKSPACE)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
# A string, for the same reason as WorkspaceOpt; forge.plugins names a missing folder with this option.
ToolsDirOpt = Annotated[
    str | None,
    typer.Option("--tools-dir", help="Folder of .py files whose @tool functions the agent also gets "
                                     "(env AUTOGPT_TOOLS_DIR).", show_default=False),
]
