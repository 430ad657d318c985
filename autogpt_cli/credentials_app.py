"""`autogpt credentials ...`: thin Typer commands; logic lives in forge. Heavy imports stay inside commands."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from autogpt_cli.options import WorkspaceOpt

app = typer.Typer(help="Store the credentials blocks use (Slack, SMTP, OpenAI, ...).", no_args_is_help=True)

# Fields shown while typed; every other field (token, password, webhook_url, url, api_key, ...) is hidden.
VISIBLE_FIELDS = {"host", "port", "username", "sender", "author", "channel", "team_id", "starttls", "ssl"}


def _store(workspace: str | None):  # -> forge.blocks.credentials.CredentialStore
    from autogpt_cli.main import _settings
    from forge.blocks.credentials import CredentialStore

    return CredentialStore.for_workspace(_settings(workspace=workspace).workspace)


def _ask(field: str) -> str:
    from forge.errors import ConfigError

    hidden = field not in VISIBLE_FIELDS
    try:
        return str(typer.prompt(f"{field}", hide_input=hidden, default="", show_default=False)).strip()
    except typer.Abort:  # end of input (closed or redirected stdin) or Ctrl-C at the prompt
        raise ConfigError(
            f"no value for {field}: input ended before it was typed; run the command in a terminal, "
            f"or pass it as {field}=VALUE"
        ) from None


@app.command("set")
def set_(
    provider: Annotated[str, typer.Argument(help="Provider name, e.g. slack, smtp, twitter, redis.")],
    fields: Annotated[
        list[str] | None,
        typer.Argument(help="FIELD=VALUE pairs; FIELD= (empty) prompts for that value with hidden input.",
                       show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Store credentials for PROVIDER in <workspace>/credentials.json (mode 0600).

    With no FIELD=VALUE the provider's usual fields (or just `token`) are prompted for, secrets with
    hidden input, so they stay out of your shell history; press Enter to skip a field.
    """
    from forge.blocks.credentials import WELL_KNOWN
    from forge.errors import ConfigError

    provider = provider.strip().lower()
    if not provider or not provider.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"invalid provider name {provider!r}; use letters, digits, - and _")
    store = _store(workspace)
    store.providers()  # a damaged or world-readable file fails now, before any prompt
    values: dict[str, str] = {}
    to_ask: list[str] = []
    typed_secret = False
    for pair in fields or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(
                f"expected FIELD=VALUE, got {pair!r}; e.g. `autogpt credentials set {provider} token=...`"
            )
        if value:
            values[name] = value
            typed_secret = typed_secret or name not in VISIBLE_FIELDS
        else:
            to_ask.append(name)
    if not fields:
        # A known provider's usual fields (empty answers are skipped), else just a token.
        to_ask = list(WELL_KNOWN.get(provider, {})) or ["token"]
    if typed_secret:
        typer.echo(
            "warning: values typed on the command line are saved in your shell history; "
            f"use `autogpt credentials set {provider} FIELD=` to be prompted instead",
            err=True,
        )
    for name in to_ask:
        answer = _ask(name)
        if answer:
            values[name] = answer
    store.set(provider, values)  # no fields -> ConfigError naming the fix
    names = ", ".join(sorted(values))
    typer.echo(f"saved {provider} ({names}) in {store.path}")


@app.command("list")
def list_(
    workspace: WorkspaceOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List configured providers, where their credentials come from, and field names (never values)."""
    store = _store(workspace)
    rows = [
        {"provider": p, "source": source, "fields": sorted(store.get(p) or {})}
        for p, source in store.providers().items()
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no credentials configured (file: {store.path}); add some with `autogpt credentials set PROVIDER`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("provider", "source", "fields")
    for row in rows:
        table.add_row(row["provider"], row["source"], ", ".join(row["fields"]))
    Console().print(table)


@app.command("remove")
def remove(
    provider: Annotated[str, typer.Argument(help="Provider whose stored credentials to delete.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete PROVIDER's credentials from the credentials file."""
    from forge.blocks.credentials import WELL_KNOWN
    from forge.errors import ConfigError

    provider = provider.strip().lower()
    store = _store(workspace)
    if store.remove(provider):
        typer.echo(f"removed {provider} from {store.path}")
        return
    if store.providers().get(provider) == "env":
        env = [f"AUTOGPT_CREDENTIALS_{provider.upper()}", *WELL_KNOWN.get(provider, {}).values()]
        raise ConfigError(f"{provider} comes from the environment, not the file; unset {' / '.join(env)}")
    raise ConfigError(f"no stored credentials for {provider}; see `autogpt credentials list`")
