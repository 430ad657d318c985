"""`autogpt workflow ...`: thin Typer commands; logic lives in forge. Heavy imports stay inside commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autogpt_cli.options import WorkspaceOpt

app = typer.Typer(help="Validate, run, draw, resume and schedule workflows of blocks.", no_args_is_help=True)
blocks_app = typer.Typer(help="List the blocks workflows can use, or show one block's schemas.")
app.add_typer(blocks_app, name="blocks")
cache_app = typer.Typer(help="The output cache of `workflow run --cache`.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

FileArg = Annotated[Path, typer.Argument(help="Workflow JSON file.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]
BlocksDirOpt = Annotated[
    Path | None, typer.Option("--blocks-dir", help="Folder of .py files defining extra Block classes.")
]
InputOpt = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="KEY=VALUE for user_input blocks, or NODE.FIELD=VALUE to override a "
                 "node's config (repeatable; VALUE is JSON when it parses, else text).", show_default=False),
]
CacheOpt = Annotated[bool, typer.Option("--cache", help="Reuse outputs of identical block inputs from earlier runs.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, help="Nodes running at once.")]
ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="inprocess (asyncio, default) or dask (needs --scheduler).")
]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786.")
]


def _settings(workspace: str | None):  # -> forge.config.Settings
    from autogpt_cli.main import _settings as settings

    return settings(workspace=workspace)


@app.command()
def validate(file: FileArg, input: InputOpt = None, blocks_dir: BlocksDirOpt = None) -> None:  # noqa: A002
    """Check FILE completely without running it: blocks, config, ports, edges, cycles, cron."""
    from autogpt_cli.workflow_command import validate_command

    validate_command(file, input or [], blocks_dir)

JsonOutputsOpt = Annotated[bool, typer.Option("--json", help="JSON lines on stdout: each event, then the result.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Validate, then walk the graph without side effects: show what each sending/writing "
    "block would send, and send nothing.")]
LiveReadsOpt = Annotated[bool, typer.Option(
    "--live-reads", help="With --dry-run: really run blocks that only read (LLM, web); default: placeholders.")]


@app.command()
def run(
    file: FileArg,
    input: InputOpt = None,  # noqa: A002
    json_output: JsonOutputsOpt = False,
    dry_run: DryRunOpt = False,
    live_reads: LiveReadsOpt = False,
    cache: CacheOpt = False,
    concurrency: ConcurrencyOpt = 16,
    executor: ExecutorOpt = "inprocess",
    scheduler: SchedulerOpt = None,
    blocks_dir: BlocksDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Run FILE: nodes run in parallel as their inputs become ready. Exit 1 if any node failed."""
    from autogpt_cli.workflow_command import dry_run_command, run_command

    if live_reads and not dry_run:
        raise typer.BadParameter("only applies with --dry-run", param_hint="--live-reads")
    if dry_run:
        ignored = [o for o, used in (("--cache", cache), ("--executor", executor != "inprocess"),
                                     ("--scheduler", scheduler)) if used]
        if ignored:  # a dry run runs in this process and records nothing
            typer.echo(f"note: --dry-run ignores {', '.join(ignored)}", err=True)
        raise typer.Exit(dry_run_command(_settings(workspace), file, inputs=input or [], json_output=json_output,
                                         live_reads=live_reads, blocks_dir=blocks_dir))
    raise typer.Exit(run_command(
        _settings(workspace), file, inputs=input or [], json_output=json_output, cache=cache,
        concurrency=concurrency, executor_name=executor, scheduler=scheduler, blocks_dir=blocks_dir,
    ))


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run id (see `autogpt workflow runs`).")],
    file: Annotated[Path | None, typer.Argument(
        help="A corrected workflow file: changed nodes and everything downstream re-run.", show_default=False,
    )] = None,
    input: InputOpt = None,  # noqa: A002
    json_output: JsonOutputsOpt = False,
    cache: CacheOpt = False,
    concurrency: ConcurrencyOpt = 16,
    executor: ExecutorOpt = "inprocess",
    scheduler: SchedulerOpt = None,
    blocks_dir: BlocksDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Re-run the nodes of RUN_ID that did not complete (or that FILE / -i change); completed outputs are replayed."""
    from autogpt_cli.workflow_command import resume_command

    raise typer.Exit(resume_command(
        _settings(workspace), run_id, file=file, inputs=input or [], json_output=json_output, cache=cache,
        concurrency=concurrency, executor_name=executor, scheduler=scheduler, blocks_dir=blocks_dir,
    ))


@app.command()
def runs(json_output: JsonOpt = False, workspace: WorkspaceOpt = None) -> None:
    """List workflow runs: id, workflow, status, nodes done/failed, start time."""
    from autogpt_cli.workflow_command import runs_command

    runs_command(_settings(workspace), json_output)


@app.command()
def schedule(
    file: FileArg,
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="Stop after N runs.")] = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Cron expression overriding the file's trigger "
                                             "(5 fields, or 6 with seconds first).")] = None,
    input: InputOpt = None,  # noqa: A002
    cache: CacheOpt = False,
    concurrency: ConcurrencyOpt = 16,
    executor: ExecutorOpt = "inprocess",
    scheduler: SchedulerOpt = None,
    blocks_dir: BlocksDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Run FILE in the foreground on its trigger's cron schedule (its timezone) until Ctrl-C or --max-runs."""
    from autogpt_cli.workflow_command import schedule_command

    raise typer.Exit(schedule_command(
        _settings(workspace), file, max_runs=max_runs, cron=cron, inputs=input or [], cache=cache,
        concurrency=concurrency, executor_name=executor, scheduler=scheduler, blocks_dir=blocks_dir,
    ))


@app.command()
def graph(
    file: FileArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .html (offline page), .svg or .mmd "
                                             "instead of printing Mermaid.")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Colour nodes by this run's statuses.")] = None,
    blocks_dir: BlocksDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print FILE as a Mermaid graph, or draw it to an HTML/SVG file that renders offline."""
    from autogpt_cli.workflow_command import graph_command

    graph_command(_settings(workspace), file, out, run_id, blocks_dir)


@cache_app.command("clear")
def cache_clear(
    workflow: Annotated[Path | None, typer.Option("--workflow", help="Remove only the entries this workflow file's "
                                                  "runs wrote.", show_default=False)] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Remove every entry.")] = False,
    json_output: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete cached block outputs and show what was removed."""
    from autogpt_cli.workflow_command import cache_clear_command

    if (workflow is None) == (not all_entries):
        raise typer.BadParameter("give --workflow FILE or --all (one of them)", param_hint="--workflow/--all")
    cache_clear_command(_settings(workspace), workflow, json_output)


@blocks_app.callback(invoke_without_command=True)
def blocks(ctx: typer.Context, json_output: JsonOpt = False, blocks_dir: BlocksDirOpt = None) -> None:
    """List blocks: id, categories, description (--json: each block's full description and schemas)."""
    if ctx.invoked_subcommand is not None:
        return
    from autogpt_cli.workflow_command import blocks_command

    blocks_command(blocks_dir, json_output)


@blocks_app.command("show")
def blocks_show(
    block_id: Annotated[str, typer.Argument(help="Block id (see `autogpt workflow blocks`).")],
    json_output: JsonOpt = False,
    blocks_dir: BlocksDirOpt = None,
) -> None:
    """Show one block: description, default ports, input and output schemas."""
    from autogpt_cli.workflow_command import block_show_command

    block_show_command(block_id, blocks_dir, json_output)
