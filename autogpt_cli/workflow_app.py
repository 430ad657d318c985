"""`autogpt workflow ...`: thin Typer commands; logic lives in forge. Heavy imports stay inside commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Validate, run, draw, resume and schedule workflows of blocks.", no_args_is_help=True)
