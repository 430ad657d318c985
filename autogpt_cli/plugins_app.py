"""`autogpt tools list`: the tools the plugins registered, and from where (`autogpt models backends`: the models').

Only typer is imported at load time, so `--help` stays instant; listing runs the plugins' register
hooks, which import no provider SDK (model and search backend factories are not called).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from autogpt_cli.options import JsonOpt, ToolsDirOpt

tools_app = typer.Typer(help="The agent's tools (built-in and from plugins).", no_args_is_help=True)


def _print(rows: list[dict[str, Any]], title: str, columns: list[str], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(Text(str(row[c])) for c in columns))  # Text: a plugin's "[...]" is not markup
    Console().print(table)


def arguments(tool: Any) -> str:
    """`name: type, opt?: type` from the tool's argument schema (the signature without name and description)."""
    return tool.signature().removeprefix(f"{tool.name}(").rsplit(") - ", 1)[0]


@tools_app.command("list")
def tools_list(json_output: JsonOpt = False, tools_dir: ToolsDirOpt = None) -> None:
    """List every tool the agent can be given: its arguments and where it comes from."""
    from autogpt_cli.main import _settings
    from forge.plugins import plugins_with, source_of

    plugins = plugins_with(_settings(tools_dir=tools_dir).tools_dir)
    rows = [
        {"name": e.name, "arguments": arguments(e.obj), "source": source_of(e.plugin), "plugin": e.plugin,
         "signature": e.obj.signature(), "description": e.description, "schema": e.obj.parameters_schema()}
        for e in plugins.tools().values()
    ]
    _print(rows, f"{len(rows)} tools", ["name", "arguments", "source", "description"], json_output)
