"""`./run benchmark`: parse, call the benchmark library, render with rich. Mounted by `./run` as `benchmark`.

Only typer is imported at load time, so `./run --help` stays instant. Exit codes: 0 when the run ran (even
with failed challenges), 2 for bad usage (options, challenge folders), 1 when the agent could not be started
or reached, 130 when Ctrl-C stopped the run (its partial report is still written).
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from benchmark.results import BenchmarkReport
    from benchmark.selection import Item

EXIT_USAGE = 2
EXIT_AGENT = 1
EXIT_INTERRUPTED = 130

app = typer.Typer(
    help="Score an Agent Protocol agent on challenges (agbenchmark's format and Python tests), offline.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
categories_app = typer.Typer(help="The challenges' categories.", no_args_is_help=True)
tests_app = typer.Typer(help="The challenges and Python tests.", no_args_is_help=True)
app.add_typer(categories_app, name="categories")
app.add_typer(tests_app, name="tests")

ChallengesPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--challenges-path", help="A folder of more challenges in agbenchmark's format (repeatable).",
                 show_default=False),
]
TestsPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--tests-path", help="A folder of Python tests (BaseTest subclasses in *.py; repeatable).",
                 show_default=False),
]
NoBuiltinOpt = Annotated[bool, typer.Option("--no-builtin", help="Leave out the built-in suite.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ReportsDirOpt = Annotated[Path, typer.Option("--reports-dir", help="Where runs are written.")]


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def _fail(message: str, code: int) -> typer.Exit:
    from forge.security.untrusted_text import clean_text, for_terminal

    print(f"error: {for_terminal(clean_text(message))}", file=sys.stderr)
    return typer.Exit(code)


def _items(challenges_path: list[Path] | None, tests_path: list[Path] | None, no_builtin: bool) -> list[Item]:
    from benchmark.selection import load_items
    from benchmark.spec import ChallengeError

    try:
        return load_items(challenges_path or [], tests_path or [], builtin=not no_builtin)
    except ChallengeError as e:
        raise _fail(str(e), EXIT_USAGE) from None


@app.callback()
def run(
    ctx: typer.Context,
    category: Annotated[list[str] | None, typer.Option("--category", "-c", help="Run this category (repeatable).",
                                                       show_default=False)] = None,
    test: Annotated[list[str] | None, typer.Option("--test", "-t", help="Run this challenge or test (repeatable).",
                                                   show_default=False)] = None,
    agent: Annotated[str | None, typer.Option(help="An agent made by ./run agent create (under agents/).",
                                              show_default=False)] = None,
    agent_path: Annotated[Path | None, typer.Option(help="An agent project folder to start.",
                                                    show_default=False)] = None,
    host: Annotated[str | None, typer.Option(help="The URL of an agent already running (not started or stopped "
                                                  "here), e.g. http://127.0.0.1:8000.", show_default=False)] = None,
    api_key: Annotated[str | None, typer.Option(envvar="AUTOGPT_API_KEY", help="Bearer key for --host.",
                                                show_default=False)] = None,
    attempts: Annotated[int, typer.Option(min=1, help="Attempts per challenge, each in a fresh task (pass@K).")] = 1,
    parallel: Annotated[int, typer.Option(min=1, help="Attempts running at once.")] = 1,
    cutoff: Annotated[float | None, typer.Option(min=0.001, help="Seconds per attempt, instead of each "
                                                 "challenge's own cutoff.", show_default=False)] = None,
    mock: Annotated[bool, typer.Option("--mock", help="Do not run the agent: upload each challenge's reference "
                                                      "solution as its work and evaluate it.")] = False,
    no_dep: Annotated[bool, typer.Option("--no-dep", help="Run challenges whose dependencies failed.")] = False,
    judge_model: Annotated[str | None, typer.Option(help="Model for llm evals (any forge model name; default "
                                                         "local/smollm2).", show_default=False)] = None,
    model: Annotated[str | None, typer.Option(help="Model of the agent servers started here (e.g. "
                                                   "scripted/FILE.json).", show_default=False)] = None,
    challenges_path: ChallengesPathOpt = None,
    tests_path: TestsPathOpt = None,
    no_builtin: NoBuiltinOpt = False,
    reports_dir: ReportsDirOpt = Path("reports"),
    executor: Annotated[str, typer.Option(help="inprocess, or dask (with --scheduler).")] = "inprocess",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, tcp://HOST:PORT.",
                                                  show_default=False)] = None,
    json_output: JsonOpt = False,
) -> None:
    """Run the benchmark (no sub-command), or list challenges and re-render reports (sub-commands)."""
    if ctx.invoked_subcommand is not None:
        return
    from pydantic import ValidationError

    from autogpt_cli.settings import CliSettings
    from autogpt_cli.user_config import env_files
    from benchmark.agents import AgentStartError
    from benchmark.progress import RichProgress, RunProgress
    from benchmark.runner import RunOptions, run_benchmark
    from forge.errors import AutoGPTError, ConfigError
    from forge.models import setup_environment

    # Offline litellm/tiktoken for a judge model; provider keys from ./.env and the user's file, as autogpt reads them.
    setup_environment(env_files())
    try:
        options = RunOptions(
            categories=category or [], tests=test or [], challenges_paths=challenges_path or [],
            tests_paths=tests_path or [], builtin=not no_builtin, agent=agent, agent_path=agent_path, host=host,
            api_key=api_key, agents_dir=Path("agents").resolve(), model=model, judge_model=judge_model,
            attempts=attempts, parallel=parallel, cutoff=cutoff, mock=mock, no_dep=no_dep, executor=executor,
            scheduler=scheduler, reports_dir=reports_dir, eval_settings=CliSettings(),
            command=" ".join(["./run benchmark", *map(shlex.quote, sys.argv[2:])]),
        )
    except ValidationError as e:
        err = e.errors()[0]
        raise _fail(f"invalid option {'.'.join(map(str, err['loc']))}: {err['msg']}", EXIT_USAGE) from None
    console = _console(stderr=json_output)
    progress = RichProgress(console) if console.is_terminal or not json_output else RunProgress()
    try:
        # SIGTERM (kill, a CI timeout, systemd) stops the run as Ctrl-C does: the report of what finished is
        # written and the agent servers started here are stopped; by default it would orphan them.
        report = run_benchmark(options, progress, stop_signals=[signal.SIGTERM])
    except KeyboardInterrupt:  # a second Ctrl-C during the orderly stop
        from benchmark.agents import kill_started_servers

        kill_started_servers()
        raise _fail("interrupted twice: stopped at once; the run's report was not written", EXIT_INTERRUPTED) from None
    except AgentStartError as e:
        raise _fail(str(e), EXIT_AGENT) from None
    except ConfigError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    except AutoGPTError as e:  # ChallengeError: a challenge folder or test file to fix
        raise _fail(str(e), EXIT_USAGE) from None
    run_dir = reports_dir / report.run_id
    if json_output:
        print(report.dump())
    else:
        render_summary(report, console)
        console.print(f"Report: {run_dir / 'report.html'} (data: {run_dir / 'report.json'})", soft_wrap=True)
    if report.interrupted:
        print(f"interrupted: the report holds what finished ({run_dir / 'report.json'})", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)


def render_summary(report: BenchmarkReport, console: Any) -> None:
    from rich.text import Text

    from benchmark.summary import headline, summary_table

    flags = (" (mock)" if report.mock else "") + (" [interrupted]" if report.interrupted else "")
    console.print(summary_table(report, title=f"Benchmark {report.run_id}{flags}"))
    console.print(Text(headline(report)))  # plain text: agent output never reaches rich markup


@categories_app.command("list")
def categories_list(
    challenges_path: ChallengesPathOpt = None, tests_path: TestsPathOpt = None, no_builtin: NoBuiltinOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Every category and how many challenges it has."""
    from benchmark.selection import categories

    counts = categories(_items(challenges_path, tests_path, no_builtin))
    if json_output:
        print(json.dumps(counts, indent=2))
        return
    from rich.table import Table

    table = Table("category", "challenges")
    for name, count in counts.items():
        table.add_row(name, str(count))
    _console().print(table)


@tests_app.command("list")
def tests_list(
    category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category.",
                                                 show_default=False)] = None,
    challenges_path: ChallengesPathOpt = None, tests_path: TestsPathOpt = None, no_builtin: NoBuiltinOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Every challenge and Python test (name, category, difficulty, eval type)."""
    from benchmark.selection import select
    from benchmark.spec import ChallengeError

    items = _items(challenges_path, tests_path, no_builtin)
    try:
        items = select(items, categories=[category] if category else [])
    except ChallengeError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    if json_output:
        rows = [{"name": i.name, "category": i.categories, "difficulty": i.difficulty, "eval": i.eval_type,
                 "dependencies": i.dependencies} for i in items]
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("name", "category", "difficulty", "eval", "depends on")
    for i in items:
        table.add_row(i.name, ", ".join(i.categories), i.difficulty, i.eval_type, ", ".join(i.dependencies))
    _console().print(table)


@tests_app.command("details")
def tests_details(
    name: Annotated[str, typer.Argument(help="A challenge or test name (as tests list shows it).")],
    challenges_path: ChallengesPathOpt = None, tests_path: TestsPathOpt = None, no_builtin: NoBuiltinOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """One challenge: task, category, dependencies, cutoff, ground truth, eval type, difficulty."""
    from benchmark.selection import find

    item = find(_items(challenges_path, tests_path, no_builtin), name)
    if item is None:
        raise _fail(f"no challenge or test named {name!r}; see ./run benchmark tests list", EXIT_USAGE)
    ground = item.challenge.spec.ground if item.challenge is not None else None
    details: dict[str, Any] = {
        "name": item.name, "task": item.task, "category": item.categories, "difficulty": item.difficulty,
        "dependencies": item.dependencies, "cutoff": item.cutoff, "eval": item.eval_type,
        "description": item.description, "path": item.data_path,
    }
    if ground is not None:
        details["ground"] = ground.model_dump(exclude_none=True)
    if json_output:
        print(json.dumps(details, indent=2))
        return
    from rich.table import Table

    table = Table(show_header=False, title=item.name)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in details.items():
        if key == "ground" and isinstance(value, dict):
            for gkey, gvalue in value.items():
                text = json.dumps(gvalue) if not isinstance(gvalue, str) else gvalue
                table.add_row(f"ground.{gkey}", text)
            continue
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    _console().print(table)


@app.command("report")
def report_command(
    run_id: Annotated[str | None, typer.Argument(metavar="[RUN]", help="A run id (folder under --reports-dir) or a "
                                                 "report.json path; the latest run when omitted.",
                                                 show_default=False)] = None,
    reports_dir: ReportsDirOpt = Path("reports"),
    json_output: JsonOpt = False,
) -> None:
    """Re-render a run: its summary table, and its report.html written again."""
    from benchmark.compare import load_run, resolve_run
    from benchmark.html_report import write_html
    from forge.errors import AutoGPTError

    ref = run_id or "latest"
    try:
        report = load_run(reports_dir, ref)
        html = None if json_output else write_html(resolve_run(reports_dir, ref).parent)
    except AutoGPTError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    if json_output:
        print(report.dump())
        return
    render_summary(report, _console())
    _console().print(f"Report: {html}", soft_wrap=True)


@app.command("compare")
def compare_command(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The earlier run: a run id (or a unique prefix), "
                                         "a folder or report.json, latest, latest~N.")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The later run, named the same ways.")] = "latest",
    reports_dir: ReportsDirOpt = Path("reports"),
    json_output: JsonOpt = False,
) -> None:
    """What regressed and what improved from RUN_A to RUN_B (the latest run by default)."""
    from benchmark.compare import compare, load_run, render_comparison
    from forge.errors import AutoGPTError

    try:
        comparison = compare(load_run(reports_dir, run_a), load_run(reports_dir, run_b))
    except AutoGPTError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    if json_output:
        print(comparison.model_dump_json(indent=2))
        return
    _console().print(render_comparison(comparison))
