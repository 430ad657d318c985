"""`autogpt models list|pull|rm|info|backends`: local models (embedded, pulled from the Hub, Ollama's).

Only typer is imported at load time, so `--help` stays instant.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autogpt_cli.options import JsonOpt, WorkspaceOpt

if TYPE_CHECKING:
    from forge.config import Settings
    from forge.models.hub import PullPlan


def _aliases_help() -> str:
    from forge.models.catalog import RECOMMENDED

    lines = [f"{r.name}: {r.repo} ({r.size_gb:.1f} GB, {r.licence}, ~{r.ram_gb:g} GB RAM)"
             for r in RECOMMENDED.values()]
    return "\n\n".join(["Aliases:", *lines])


app = typer.Typer(
    help="Local models: the embedded one, GGUF models pulled from the Hugging Face Hub, Ollama's.",
    no_args_is_help=True,
)


def _settings(workspace: str | None) -> Settings:
    from autogpt_cli.main import _settings as build

    return build(workspace=workspace)


def _gb(n: int | float | None) -> str:
    if not n:
        return "-"
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def _table(rows: list[dict[str, Any]], title: str, columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("-" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


def _ollama_url(settings: Settings) -> str:
    from forge.models.ollama import PREFIXES, server_url

    api_base = settings.api_base if settings.model.startswith(PREFIXES) else None
    return server_url(api_base, settings.ollama_host)


@app.command("list")
def list_models(workspace: WorkspaceOpt = None, json_output: JsonOpt = False) -> None:
    """The embedded model, pulled models (size, licence), interrupted pulls, and a local Ollama server's models."""
    from forge.models.catalog import RECOMMENDED
    from forge.models.hub import ModelStore
    from forge.models.local import LOCAL_MODELS, local_model_path
    from forge.models.ollama import list_models as ollama_models

    settings = _settings(workspace)
    rows: list[dict[str, Any]] = []
    for name, spec in LOCAL_MODELS.items():
        try:
            path, size, status = str(local_model_path(name)), local_model_path(name).stat().st_size, "ready"
        except Exception:
            path, size, status = None, None, f"not installed: {spec.install_hint}"
        rows.append({"model": f"local/{name}", "source": "embedded", "size_bytes": size, "licence": "Apache-2.0",
                     "status": status, "path": path})
    store = ModelStore(settings.models_path())
    for m in store.pulled():
        rows.append({"model": f"local/{m.name}", "source": f"hf.co/{m.repo}", "size_bytes": m.size_bytes,
                     "licence": m.licence, "status": "ready", "path": str(m.path)})
    for p in store.partial():
        rows.append({"model": f"local/{p.name}", "source": "interrupted pull", "size_bytes": p.bytes, "licence": None,
                     "status": f"partial: `autogpt models pull {p.name}` resumes it", "path": str(p.folder)})
    url = _ollama_url(settings)
    for o in ollama_models(url) or []:
        rows.append({"model": f"ollama/{o.name}", "source": f"ollama {url}", "size_bytes": o.size, "licence": None,
                     "status": "ready", "path": None})
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    _table([{**r, "size": _gb(r["size_bytes"])} for r in rows], f"{len(rows)} models",
           ["model", "source", "size", "licence", "status"])
    pulled = {r["model"] for r in rows}
    missing = [r for r in RECOMMENDED.values() if f"local/{r.name}" not in pulled]
    if missing:
        typer.echo("\nStronger models, one command away (`autogpt models pull NAME`):")
        for r in missing:
            note = f"; {r.note}" if r.note else ""
            typer.echo(f"  {r.name:<13} {r.size_gb:.1f} GB, needs ~{r.ram_gb:g} GB RAM, {r.licence}{note}")


@app.command("pull", help="Download a GGUF model from the Hugging Face Hub (resumable, sha256-verified).\n\n"
                          "NAME is an alias, REPO_ID:FILE.gguf or hf.co/REPO_ID/FILE.gguf.\n\n" + _aliases_help())
def pull(
    name: Annotated[str, typer.Argument(help="Alias (qwen2.5:1.5b), REPO_ID:FILE.gguf or hf.co/REPO_ID/FILE.gguf.")],
    local_name: Annotated[
        str | None, typer.Option("--name", help="Name to run it by (local/NAME); default: the alias or file name.")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the pulled model as JSON.")] = False,
) -> None:
    from forge.models.env import allow_hub_downloads

    allow_hub_downloads()  # before huggingface_hub is imported: it reads HF_HUB_OFFLINE once
    from rich.console import Console

    from forge.models.catalog import resolve_ref
    from forge.models.hub import ModelStore

    settings = _settings(workspace)
    ref = resolve_ref(name, local_name)
    store = ModelStore(settings.models_path())
    err = Console(stderr=True)
    bars = _RichBars(err)

    def show(plan: PullPlan) -> None:
        files = ", ".join(f.name for f in plan.files)
        err.print(f"[bold]{ref.name}[/]: {plan.repo} {files}")
        err.print(f"  size {_gb(plan.size_bytes)}, needs ~{plan.ram_gb or '?'} GB RAM, "
                  f"licence: [bold]{plan.licence or 'unknown (read the model card)'}[/]"
                  + (" (gated on the Hub)" if plan.gated else ""))
        if plan.note:
            err.print(f"  {plan.note}")
        if plan.up_to_date:
            err.print("  already pulled and up to date")
        elif plan.resume_bytes:
            err.print(f"  resuming: {_gb(plan.resume_bytes)} already downloaded")

    try:
        model = store.pull(ref, endpoint=os.environ.get("HF_ENDPOINT") or None, progress=bars, on_plan=show)
    except KeyboardInterrupt:
        bars.stop()
        err.print(f"interrupted; `autogpt models pull {name}` resumes where it stopped", highlight=False)
        raise typer.Exit(130) from None
    finally:
        bars.stop()
    if json_output:
        typer.echo(json.dumps({**model.model_dump(mode="json"), "path": str(model.path)}, indent=2))
    else:
        typer.echo(f"pulled {model.name} ({_gb(model.size_bytes)}); run it with --model local/{model.name}")


class _RichBars:
    """hub.ProgressFactory drawn with rich on stderr: one bar per file download or verification."""

    def __init__(self, console: Any):
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=console,
        )
        self.started = False

    def __call__(self, description: str, total: int | None, initial: int) -> Any:
        if not self.started:
            self.progress.start()
            self.started = True
        task = self.progress.add_task(description, total=total, completed=initial)
        progress = self.progress

        class _Bar:
            def update(self, n: int) -> None:
                progress.advance(task, n)

            def close(self) -> None:
                progress.refresh()

        return _Bar()

    def stop(self) -> None:
        if self.started:
            self.progress.stop()


@app.command("rm")
def rm(
    name: Annotated[str, typer.Argument(help="A pulled model (as `autogpt models list` shows it, without local/).")],
    workspace: WorkspaceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Delete a pulled model, or an interrupted pull."""
    from forge.errors import ConfigError
    from forge.models.hub import ModelStore
    from forge.models.local import LOCAL_MODELS

    name = name.removeprefix("local/")
    if name in LOCAL_MODELS:
        raise ConfigError(f"local/{name} is the embedded model (a pip package), not a pulled one; nothing to remove")
    freed = ModelStore(_settings(workspace).models_path()).remove(name)
    if json_output:
        typer.echo(json.dumps({"removed": name, "freed_bytes": freed}))
    else:
        typer.echo(f"removed {name} ({_gb(freed)} freed)")


@app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="local/NAME, a pulled or embedded NAME, a .gguf path, or ollama/NAME.")],
    workspace: WorkspaceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Context length, chat template, quantisation, architecture and parameters, from the model file."""
    settings = _settings(workspace)
    data = _ollama_info(settings, name) if name.startswith(("ollama/", "ollama_chat/")) else _local_info(settings, name)
    if json_output:
        typer.echo(json.dumps(data, indent=2))
        return
    template = data.get("chat_template") or ""
    lines = template.splitlines()
    shown = "\n".join(lines[:6]) + (f"\n... ({len(lines) - 6} more lines)" if len(lines) > 6 else "")
    _table([{"field": k, "value": v} for k, v in {**data, "chat_template": shown or None}.items()],
           data["model"], ["field", "value"])


def _local_info(settings: Settings, name: str) -> dict[str, Any]:
    from forge.models.gguf_file import read_gguf_info
    from forge.models.hub import ModelStore
    from forge.models.local import resolve_local

    name = name.removeprefix("local/")
    weights = resolve_local(name, settings.models_path())
    header = read_gguf_info(weights.path).summary()
    pulled = ModelStore(settings.models_path()).find(name) if weights.source == "pulled" else None
    size = pulled.size_bytes if pulled else weights.path.stat().st_size
    return {
        "model": f"local/{name}",
        "source": f"hf.co/{pulled.repo}" if pulled else weights.source,
        "path": str(weights.path),
        "size_bytes": size,
        **header,
        "licence": (pulled.licence if pulled else None) or header["licence"],
    }


def _ollama_info(settings: Settings, name: str) -> dict[str, Any]:
    import httpx

    from forge.models.ollama import unavailable

    url, model = _ollama_url(settings), name.split("/", 1)[1]
    try:
        response = httpx.post(f"{url}/api/show", json={"model": model}, timeout=5)
    except httpx.HTTPError:
        raise unavailable(url) from None
    if response.status_code == 404:
        from forge.errors import ModelNotFoundError

        raise ModelNotFoundError(f"the Ollama server at {url} has no model {model!r}; run `ollama pull {model}`")
    body = response.json()
    details, model_info = body.get("details") or {}, body.get("model_info") or {}
    arch = model_info.get("general.architecture") or details.get("family")
    return {
        "model": name,
        "source": f"ollama {url}",
        "architecture": arch,
        "parameters": details.get("parameter_size"),
        "quantisation": details.get("quantization_level"),
        "context_length": model_info.get(f"{arch}.context_length"),
        "licence": (body.get("license") or "").splitlines()[0] if body.get("license") else None,
        "chat_template": body.get("template"),
    }


@app.command("backends")
def backends(json_output: JsonOpt = False) -> None:
    """The model string prefixes that resolve to a backend, with their plugin."""
    from forge.plugins import get_plugins

    rows = [
        {"prefix": e.prefix or "(any other)", "plugin": e.plugin, "description": e.description}
        for e in sorted(get_plugins().models().values(), key=lambda e: (e.prefix == "", e.prefix))
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, "model backends", ["prefix", "plugin", "description"])
