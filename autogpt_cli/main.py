"""`autogpt`: parse, call forge, render. Heavy imports stay inside commands so --help is instant."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from autogpt_cli.help_format import hide_flag_types
from autogpt_cli.options import JsonOpt, ToolsDirOpt, WorkspaceOpt

hide_flag_types()

app = typer.Typer(
    name="autogpt",
    help="An autonomous agent for your terminal (AutoGPT Classic style), offline by default.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="List, inspect, undo and delete stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def _add_subapps() -> None:
    # Each sub-app module imports only typer at load time, so `autogpt --help` stays instant.
    from autogpt_cli import credentials_app, memory_app, models_app, plugins_app, workflow_app

    app.add_typer(workflow_app.app, name="workflow")
    app.add_typer(memory_app.app, name="memory")
    app.add_typer(credentials_app.app, name="credentials")
    app.add_typer(plugins_app.tools_app, name="tools")
    app.add_typer(models_app.app, name="models")


_add_subapps()


def _version(value: bool) -> None:
    if value:
        from autogpt_cli.version import version_lines

        typer.echo("\n".join(version_lines()))
        raise typer.Exit()


@app.callback()
def _app_options(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True,
                     help="Print the version (and Python's, llama.cpp's, the embedded model's) and exit."),
    ] = False,
) -> None:
    """An autonomous agent for your terminal (AutoGPT Classic style), offline by default."""



def _settings(**overrides: Any):  # -> forge.config.Settings
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from autogpt_cli.settings import build_settings
    from forge.errors import ConfigError

    if "AUTOGPT_OLLAMA_HOST" not in os.environ and os.environ.get("OLLAMA_HOST"):
        overrides.setdefault("ollama_host", os.environ["OLLAMA_HOST"])  # the variable the ollama CLI reads
    try:
        return build_settings(**{k: v for k, v in overrides.items() if v is not None and v != []})
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {name}: {msg}; fix AUTOGPT_{name.upper()} or the option") from None
    except SettingsError as e:  # a value the settings source itself could not decode
        raise ConfigError(f"invalid setting: {e}; fix the AUTOGPT_* variable or .env entry it names") from None


@app.command()
def run(
    goal: Annotated[str | None, typer.Argument(help="What the agent should achieve.")] = None,
    continuous: Annotated[bool, typer.Option("--continuous", "-c", help="Run actions without asking.")] = False,
    max_iterations: Annotated[
        int | None,
        typer.Option("--max-iterations", "--continuous-limit", min=1,
                     help="Stop after N cycles of this invocation (default 25)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="litellm model string (default local/smollm2; env AUTOGPT_MODEL).",
                     show_default=False),
    ] = None,
    api_base: Annotated[str | None, typer.Option(help="Base URL of the model server (Ollama, vLLM, ...).")] = None,
    workspace: WorkspaceOpt = None,
    workdir: Annotated[
        str | None,
        typer.Option(help="Let the file tools and the code sandbox work in this folder (e.g. .) instead of the "
                          "agent's own; every change can be undone with `autogpt runs undo`."),
    ] = None,
    ai_name: Annotated[
        str | None, typer.Option("--ai-name", "--agent", help="The agent's name (its folder: the name as a slug).")
    ] = None,
    ai_role: Annotated[str | None, typer.Option(help="One line describing the agent's role.")] = None,
    constraint: Annotated[list[str] | None, typer.Option(help="Extra constraint (repeatable).")] = None,
    resource: Annotated[list[str] | None, typer.Option(help="Extra resource (repeatable).")] = None,
    best_practice: Annotated[list[str] | None, typer.Option(help="Extra best practice (repeatable).")] = None,
    budget: Annotated[float | None, typer.Option(min=0, help="Stop when this run has cost USD.")] = None,
    fast_model: Annotated[
        str | None, typer.Option(help="Cheaper model that summarises old steps (default: the main model).")
    ] = None,
    max_context_tokens: Annotated[
        int | None, typer.Option(min=512, help="Context window to fit prompts in (default: the model's own).")
    ] = None,
    no_summary: Annotated[
        bool, typer.Option("--no-summary", help="Drop old steps instead of summarising them with the LLM.")
    ] = False,
    no_memory: Annotated[
        bool, typer.Option("--no-memory", help="Run without long-term memory (no recall, nothing stored).")
    ] = False,
    resume: Annotated[str | None, typer.Option(help="Continue a stopped or killed run by its id.")] = None,
    follow_up: Annotated[
        str | None,
        typer.Option("--continue", metavar="RUN_ID",
                     help='Give a finished run a new instruction (GOAL): same run, workspace and history.'),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON event per line on stdout.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Each model call (prompt, raw reply, latency, retries) and verbose logs on "
                                           "stderr, secrets redacted.")
    ] = False,
    tools_dir: ToolsDirOpt = None,
) -> None:
    """Run the agent on GOAL: think, propose a tool call, ask you, act, repeat."""
    from autogpt_cli.run_command import run_agent

    overrides: dict[str, Any] = dict(
        max_iterations=max_iterations, model=model, api_base=api_base, workspace=workspace,
        ai_name=ai_name, ai_role=ai_role, constraints=constraint, resources=resource,
        best_practices=best_practice, budget_usd=budget, fast_model=fast_model,
        max_context_tokens=max_context_tokens, workdir=workdir, tools_dir=tools_dir,
    )
    if no_summary:
        overrides["summary"] = False
    if no_memory:
        overrides["memory"] = False
    if ai_name:
        from autogpt_cli.run_command import slug

        overrides["agent_name"] = slug(ai_name)
    code = run_agent(
        goal, _settings(**overrides), continuous=continuous, resume=resume, json_output=json_output,
        debug=debug, model_given=model is not None, follow_up=follow_up,
    )
    raise typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (keep 127.0.0.1 unless you set AUTOGPT_API_KEY).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port, printed at start).")] = 8000,
    model: Annotated[
        str | None, typer.Option(help="Model for every task (default local/smollm2; env AUTOGPT_MODEL).",
                                 show_default=False),
    ] = None,
    api_base: Annotated[str | None, typer.Option(help="Base URL of the model server (Ollama, vLLM, ...).")] = None,
    workspace: WorkspaceOpt = None,
    agent: Annotated[
        str | None,
        typer.Option(help="MODULE:ATTR of the agent to serve: an Agent subclass or a (goal, settings, run_id) "
                          "-> agent callable (default: the built-in agent).", show_default=False),
    ] = None,
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", min=1, help="Cycles a task may run (default 25).")
    ] = None,
) -> None:
    """Serve the agent over the Agent Protocol v1 (HTTP, /ap/v1): each task gets its own agent and folder."""
    from autogpt_cli.serve_command import serve_command

    settings = _settings(model=model, api_base=api_base, workspace=workspace, max_iterations=max_iterations)
    serve_command(settings, host=host, port=port, agent=agent)


@runs_app.command("list")
def runs_list(workspace: WorkspaceOpt = None, json_output: JsonOpt = False) -> None:
    """List runs with their status, steps, tokens and cost."""
    from autogpt_cli.runs_command import list_command

    list_command(_settings(workspace=workspace), json_output)


RunIdArg = Annotated[str, typer.Argument(help="The run id (see `autogpt runs list`).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")]


@runs_app.command("show")
def runs_show(
    run_id: RunIdArg,
    workspace: WorkspaceOpt = None,
    json_output: JsonOpt = False,
    diff: Annotated[bool, typer.Option("--diff", help="Also show the diff of every file the run changed.")] = False,
) -> None:
    """Show a run's state and its steps: tool, arguments, result, files changed."""
    from autogpt_cli.runs_command import show_command

    show_command(_settings(workspace=workspace), run_id, json_output, diffs=diff)


@runs_app.command("undo")
def runs_undo(
    run_id: RunIdArg,
    to_step: Annotated[
        int, typer.Option("--to-step", min=0, help="Keep steps up to N; undo the later ones (default 0: all).")
    ] = 0,
    yes: YesOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore files even if they were changed after the run.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Restore the files a run changed to their previous versions (recreate deleted ones, remove new ones)."""
    from autogpt_cli.runs_command import undo_command

    raise typer.Exit(undo_command(_settings(workspace=workspace), run_id, to_step, yes, force))


@runs_app.command("delete")
def runs_delete(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids (see `autogpt runs list`).")],
    yes: YesOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete runs: their event logs and kept file versions (a running run is refused)."""
    from autogpt_cli.runs_command import delete_command

    delete_command(_settings(workspace=workspace), run_ids, yes)


@runs_app.command("prune")
def runs_prune(
    older_than: Annotated[str | None, typer.Option(help="Runs started longer ago than this, e.g. 30d, 12h.")]
    = None,
    status: Annotated[
        list[str] | None, typer.Option(help="Only runs with this status (repeatable), e.g. failed, finished.")
    ] = None,
    keep: Annotated[int | None, typer.Option(min=0, help="Always keep the N newest runs.")] = None,
    yes: YesOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete old runs; lists them and asks first (running runs are never deleted)."""
    from autogpt_cli.runs_command import prune_command

    prune_command(_settings(workspace=workspace), older_than, status or [], keep, yes)


@app.command()
def doctor(
    model: Annotated[
        str | None, typer.Option(help="Check for this model (default: AUTOGPT_MODEL or local/smollm2).",
                                 show_default=False),
    ] = None,
    api_base: Annotated[str | None, typer.Option(help="Base URL of the model server (Ollama, vLLM, ...).")] = None,
    workspace: WorkspaceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Check what the agent needs here (model, keys, sandbox, browser, workspace, memory) and print the fixes."""
    from autogpt_cli.doctor import doctor_command

    raise typer.Exit(doctor_command(_settings(model=model, api_base=api_base, workspace=workspace), json_output))


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from autogpt_cli.piped import widen_when_piped
    from autogpt_cli.user_config import env_files, warn_unknown_keys
    from forge.models.env import setup_environment

    given = dict(os.environ)
    widen_when_piped()
    # The one place the process environment is prepared: offline defaults, keys of ./.env and the user file.
    setup_environment(env_files(given))
    if not any(k.endswith("_COMPLETE") and k.startswith("_") for k in given):  # not while the shell completes
        warn_unknown_keys(given)
    try:
        app()
    except Exception as e:  # typer re-raises after standalone handling is off for our errors
        from forge.agent.outcome import EXIT_PROVIDER, EXIT_USAGE
        from forge.errors import AutoGPTError, ConfigError, LLMError
        from forge.security.untrusted_text import clean_text, for_terminal

        if not isinstance(e, AutoGPTError):
            raise
        print(f"error: {for_terminal(clean_text(str(e)))}", file=sys.stderr)
        if isinstance(getattr(e, "exit_code", None), int):  # e.g. no Ollama server (10), a failed pull (11)
            sys.exit(e.exit_code)  # type: ignore[attr-defined]
        if isinstance(e, ConfigError):
            sys.exit(EXIT_USAGE)
        sys.exit(EXIT_PROVIDER if isinstance(e, LLMError) else 1)


if __name__ == "__main__":
    main()
