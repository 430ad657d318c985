"""`autogpt memory ...`: thin Typer commands; logic lives in forge. Heavy imports stay inside commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and edit an agent's long-term memory.", no_args_is_help=True)
