"""`autogpt memory ...`: thin Typer commands; logic lives in forge. Heavy imports stay inside commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autogpt_cli.options import WorkspaceOpt

app = typer.Typer(help="Inspect and edit an agent's long-term memory.", no_args_is_help=True)

# The same agent as `autogpt run --ai-name NAME`: the display name ("Party Planner") or its folder
# name ("party-planner"); both spellings of the option are accepted by every command.
AgentOpt = Annotated[
    str | None,
    typer.Option("--agent", "--ai-name",
                 help="Agent whose memory to use: its name or folder name, as given to `run --ai-name` "
                      "(default autogpt; env AUTOGPT_AGENT_NAME)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _settings(agent: str | None, workspace: str | None) -> Any:  # -> forge.config.Settings
    from autogpt_cli.main import _settings as build
    from autogpt_cli.run_command import slug

    # The folder `run --ai-name` stores under; AUTOGPT_AGENT_NAME is used as it is, as `run` does.
    return build(agent_name=slug(agent) if agent else None, workspace=workspace)


@app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="The memory to store.")],
    kind: Annotated[str, typer.Option(help="A label stored with it (note, fact, ...).")] = "note",
    agent: AgentOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Store TEXT in the agent's memory."""
    from autogpt_cli.memory_command import add_command

    add_command(_settings(agent, workspace), text, kind)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for (matched by meaning).")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=100, help="How many results.")] = 5,
    agent: AgentOpt = None,
    workspace: WorkspaceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show the memories closest in meaning to QUERY, best first."""
    from autogpt_cli.memory_command import search_command

    search_command(_settings(agent, workspace), query, top_k, json_output)


@app.command("list")
def list_(
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Show at most N (newest first).")] = 20,
    kind: Annotated[str | None, typer.Option(help="Only memories with this kind.")] = None,
    agent: AgentOpt = None,
    workspace: WorkspaceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List memories, newest first."""
    from autogpt_cli.memory_command import list_command

    list_command(_settings(agent, workspace), limit, kind, json_output)


@app.command("delete")
def delete(
    ids: Annotated[list[str], typer.Argument(help="Memory ids, whole or a unique prefix (see `memory list`).")],
    agent: AgentOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete the memories with these IDS (exit 1 if one is not found; the others are still deleted)."""
    from autogpt_cli.memory_command import delete_command

    raise typer.Exit(delete_command(_settings(agent, workspace), ids))


@app.command("clear")
def clear(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    agent: AgentOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete every memory of the agent (also fixes an embedding-model mismatch)."""
    from autogpt_cli.memory_command import clear_command

    clear_command(_settings(agent, workspace), yes)
