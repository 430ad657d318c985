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


def known_providers() -> set[str]:
    """Providers the well-known env vars or any installed block (`Block.credentials`) name."""
    from forge.blocks.credentials import WELL_KNOWN
    from forge.blocks.registry import BlockRegistry

    names = set(WELL_KNOWN)
    for block in BlockRegistry.from_plugins():
        names.update(getattr(block, "credentials", ()))
    return names


def check_provider(provider: str, stored: set[str]) -> None:
    """A misspelt provider is refused with the name it resembles; a name nothing resembles is a custom one."""
    import difflib

    from forge.errors import ConfigError

    known = known_providers() | stored
    if provider in known:
        return
    close = difflib.get_close_matches(provider, sorted(known), n=1, cutoff=0.75)
    if close:
        raise ConfigError(f"unknown provider {provider!r}; did you mean {close[0]}? "
                          f"(`autogpt credentials set {close[0]} ...`)")
    typer.echo(f"note: no installed block reads credentials for {provider!r}; saving them anyway", err=True)


def _read_piped(provider: str, names: list[str]) -> dict[str, str]:
    """Values piped on stdin (`echo $TOKEN | autogpt credentials set slack token=`): one line per field."""
    from forge.errors import ConfigError

    lines = [line.strip() for line in typer.get_text_stream("stdin").read().splitlines()]
    if not any(lines):
        fields = " ".join(f"{n}=VALUE" for n in names)
        raise ConfigError(f"no value for {', '.join(names)}: stdin is not a terminal and nothing was piped; "
                          f"pipe it (`echo $SECRET | autogpt credentials set {provider} {names[0]}=`) "
                          f"or pass {fields}")
    if len(names) == 1:
        lines = ["\n".join(lines).strip()]
    return {name: value for name, value in zip(names, lines, strict=False) if value}


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
    hidden input, so they stay out of your shell history; press Enter to skip a field. Without a
    terminal the values are read from stdin, one line per field: `echo $TOKEN | autogpt credentials set slack token=`.
    """
    from forge.blocks.credentials import WELL_KNOWN
    from forge.errors import ConfigError

    provider = provider.strip().lower()
    if not provider or not provider.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"invalid provider name {provider!r}; use letters, digits, - and _")
    store = _store(workspace)
    stored = set(store.providers())  # a damaged or world-readable file fails now, before any prompt
    check_provider(provider, stored)
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
    import sys

    if to_ask and not sys.stdin.isatty():  # piped: no prompt (getpass would warn and echo)
        values.update(_read_piped(provider, to_ask))
    else:
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
