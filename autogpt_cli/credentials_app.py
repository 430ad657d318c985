"""`autogpt credentials ...`: thin Typer commands; logic lives in forge. Heavy imports stay inside commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Store the credentials blocks use (Slack, SMTP, OpenAI, ...).", no_args_is_help=True)
