"""`autogpt tools list`, `autogpt models list`: what the plugins registered, and from where.

Only typer is imported at load time, so `--help` stays instant; listing runs the plugins' register
hooks, which import no provider SDK (model and search backend factories are not called).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from autogpt_cli.options import JsonOpt

tools_app = typer.Typer(help="The agent's tools (built-in and from plugins).", no_args_is_help=True)
models_app = typer.Typer(help="Model backends (built-in and from plugins).", no_args_is_help=True)


def _print(rows: list[dict[str, Any]], title: str, columns: list[str], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)


@tools_app.command("list")
def tools_list(json_output: JsonOpt = False) -> None:
    """List every tool the agent can be given, with its plugin."""
    from forge.plugins import get_plugins

    rows = [
        {"name": e.name, "plugin": e.plugin, "signature": e.obj.signature(), "description": e.description}
        for e in get_plugins().tools().values()
    ]
    _print(rows, f"{len(rows)} tools", ["name", "plugin", "description"], json_output)


@models_app.command("list")
def models_list(json_output: JsonOpt = False) -> None:
    """List the model string prefixes that resolve to a backend, with their plugin."""
    from forge.models.local import LOCAL_MODELS
    from forge.plugins import get_plugins

    rows = [
        {"prefix": e.prefix or "(any other)", "plugin": e.plugin, "description": e.description}
        for e in sorted(get_plugins().models().values(), key=lambda e: (e.prefix == "", e.prefix))
    ]
    if not json_output:
        rows += [
            {"prefix": f"local/{name}", "plugin": "forge.default_plugins.models", "description": spec.description}
            for name, spec in LOCAL_MODELS.items()
        ]
    _print(rows, "model backends", ["prefix", "plugin", "description"], json_output)
