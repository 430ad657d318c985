"""`autogpt doctor`: check what the agent needs on this machine, and name the fix for each problem.

Each check returns a `Check` (ok / warn / fail). A failure is something the configured agent cannot
do without (the model it would run, its key, its workspace); a warning is a part it can run without
(the browser has a static fallback, the embedded model is not used with an API model). Lookups of
programs go through `which`, so a test can simulate a machine without bubblewrap.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from forge.config import Settings

SETUP_HINT = "`./run setup` installs it with the rest"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def default_which(program: str) -> str | None:
    """PATH, then the fallback the sandbox itself uses when PATH is minimal."""
    from forge.tools.sandbox import BWRAP_FALLBACK

    found = shutil.which(program)
    if found is None and program == "bwrap" and os.path.exists(BWRAP_FALLBACK):
        return BWRAP_FALLBACK
    return found


def _uses_embedded(settings: Settings) -> bool:
    return settings.model.startswith("local/") or (settings.fast_model or "").startswith("local/")


def check_embedded_model(settings: Settings) -> Check:
    from forge.errors import AutoGPTError
    from forge.models.local import LOCAL_MODELS, resolve_local

    needed = _uses_embedded(settings)
    name = settings.model.removeprefix("local/") if settings.model.startswith("local/") else "smollm2"
    try:
        weights = resolve_local(name, settings.models_path())
    except AutoGPTError as e:
        spec = LOCAL_MODELS.get(name)
        fix = f"run `{spec.install_hint}` ({SETUP_HINT})" if spec else str(e)
        return Check("embedded model", "fail" if needed else "warn",
                     f"local/{name} is not installed" + ("" if needed else " (not used by your model)"), fix)
    return Check("embedded model", "ok", f"local/{weights.name}: {weights.path} ({weights.source})")


def check_llama_cpp(settings: Settings) -> Check:
    needed = _uses_embedded(settings)
    if importlib.util.find_spec("llama_cpp") is None:
        return Check("llama-cpp", "fail" if needed else "warn",
                     "llama-cpp-python is not installed" + ("" if needed else " (not used by your model)"),
                     f"`pip install llama-cpp-python==0.3.36` ({SETUP_HINT})")
    try:
        import llama_cpp  # loads the native library: the part that fails on a broken build
    except Exception as e:  # an ImportError or OSError from the shared library
        return Check("llama-cpp", "fail" if needed else "warn", f"llama_cpp does not import: {type(e).__name__}: {e}",
                     "reinstall it: `pip install --force-reinstall llama-cpp-python==0.3.36`")
    return Check("llama-cpp", "ok", f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')}")


def check_bubblewrap(settings: Settings, which: Callable[[str], str | None] = default_which) -> Check:
    if settings.sandbox != "bwrap":
        return Check("bubblewrap", "warn", f"sandbox is {settings.sandbox!r}: model-written code runs as you",
                     "unset AUTOGPT_SANDBOX to run code in the bubblewrap sandbox")
    fix = f"`apt-get install bubblewrap` ({SETUP_HINT}), or AUTOGPT_SANDBOX=none to run code unsandboxed (unsafe)"
    path = which("bwrap")
    if path is None:
        return Check("bubblewrap", "fail", "bwrap is not installed: execute_python and execute_shell cannot run", fix)
    from forge.errors import AutoGPTError
    from forge.tools.sandbox import python_executable, run_sandboxed

    try:
        with tempfile.TemporaryDirectory(prefix="autogpt-doctor-") as folder:
            result = run_sandboxed([python_executable("bwrap"), "-c", "print('sandbox-ok')"],
                                   workspace=Path(folder), settings=settings, timeout=20)
    except AutoGPTError as e:
        return Check("bubblewrap", "fail", f"{path} cannot create a sandbox here: {e}", fix)
    if not result.ok or "sandbox-ok" not in result.output:
        return Check("bubblewrap", "fail", f"{path} cannot create a sandbox here: {result.output.strip()[:200]}",
                     "bwrap needs user namespaces: run as root or enable them "
                     "(sysctl kernel.unprivileged_userns_clone=1)")
    return Check("bubblewrap", "ok", f"{path}: a sandboxed python ran")


def check_chromium(settings: Settings) -> Check:
    path = settings.browser_path
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return Check("chromium", "ok", path)
    return Check("chromium", "warn", f"no browser at {path}: read_webpage falls back to static fetching (no JS)",
                 f"`apt-get install chromium` ({SETUP_HINT}), or set AUTOGPT_BROWSER_PATH")


def check_keys(settings: Settings) -> list[Check]:
    """API keys the configured models need, by litellm's provider rules; values are never shown."""
    checks = []
    for label, model in (("model", settings.model), ("fast model", settings.fast_model)):
        if not model or model.split("/", 1)[0] in ("local", "scripted", "ollama", "ollama_chat"):
            continue
        from forge.models.env import import_litellm

        try:
            env = import_litellm().validate_environment(model=model, api_base=settings.api_base)
        except Exception as e:  # litellm does not know the model: the run would say so too
            checks.append(Check(f"{label} key", "fail", f"{model}: {type(e).__name__}: {e}",
                                "check the model string (`provider/model`, see `autogpt models backends`)"))
            continue
        missing = list(env.get("missing_keys") or [])
        if missing:
            from autogpt_cli.user_config import user_env_file

            checks.append(Check(f"{label} key", "fail", f"{model}: {', '.join(missing)} not set",
                                f"set {' and '.join(missing)} in the environment, ./.env or {user_env_file()}"))
        else:
            checks.append(Check(f"{label} key", "ok", f"{model}: key set"))
    return checks


def check_workspace(settings: Settings) -> Check:
    """Writable without creating anything: the workspace, or the folder it would be made in."""
    folder = settings.workspace.resolve()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = "choose another with --workspace DIR or AUTOGPT_WORKSPACE, or fix its permissions"
    if not existing.is_dir():
        return Check("workspace", "fail", f"{existing} is not a folder", fix)
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".autogpt-doctor-"):
            pass
    except OSError as e:
        return Check("workspace", "fail", f"{existing} is not writable ({e.strerror})", fix)
    return Check("workspace", "ok", str(folder) + ("" if folder.exists() else " (created on first run)"))


def check_memory(settings: Settings) -> list[Check]:
    if not settings.memory:
        return [Check("memory", "ok", "long-term memory is off (AUTOGPT_MEMORY=false)")]
    checks = []
    if importlib.util.find_spec("chromadb") is None:
        checks.append(Check("memory", "fail", "chromadb is not installed",
                            f"`pip install chromadb` ({SETUP_HINT}), or AUTOGPT_MEMORY=false"))
    else:
        checks.append(Check("memory", "ok", "chromadb installed"))
    if settings.embedding_model == "local/minilm":
        from forge.errors import AutoGPTError
        from forge.memory.embeddings import minilm_files

        try:
            minilm_files()
        except AutoGPTError as e:
            checks.append(Check("embeddings", "fail", "the offline embedding model is not installed", str(e)))
    checks.extend(check_memory_locks(settings))
    return checks


def check_memory_locks(settings: Settings) -> list[Check]:
    """Memory stores held by a running agent, or left by a killed one (repaired at its next open)."""
    import fcntl

    from forge.memory.preflight import LOCK_FILE

    checks = []
    for lock in sorted((settings.workspace / "agents").glob(f"*/memory/{LOCK_FILE}")):
        agent = lock.parent.parent.name
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError as e:
            checks.append(Check(f"memory lock {agent}", "fail", f"{lock} is not readable ({e.strerror})",
                                "fix its permissions"))
            continue
        try:
            pid_text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                checks.append(Check(f"memory lock {agent}", "warn",
                                    f"in use by a running agent (pid {pid_text or '?'})",
                                    "wait for that run to end before `autogpt memory search|list`"))
                continue
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if pid_text:
            checks.append(Check(f"memory lock {agent}", "warn",
                                f"left by writer pid {pid_text}, which was killed",
                                "nothing to do: the next open checks and repairs it "
                                f"(`autogpt memory list --agent {agent}`)"))
    return checks


def check_ollama(settings: Settings) -> Check | None:
    from forge.models.ollama import PREFIXES, PROBE_TIMEOUT_S, list_models, server_url

    if not settings.model.startswith(PREFIXES):
        return None
    url = server_url(settings.api_base, settings.ollama_host)
    models = list_models(url, timeout=PROBE_TIMEOUT_S)
    if models is None:
        return Check("ollama", "fail", f"no server at {url}", "start `ollama serve`, or check --api-base / OLLAMA_HOST")
    wanted = settings.model.split("/", 1)[1]
    if not any(m.name in (wanted, f"{wanted}:latest") for m in models):
        return Check("ollama", "fail", f"{url} has no model {wanted!r}", f"`ollama pull {wanted}`")
    return Check("ollama", "ok", f"{url} serves {wanted}")


def run_checks(settings: Settings, which: Callable[[str], str | None] = default_which) -> list[Check]:
    checks = [check_embedded_model(settings), check_llama_cpp(settings), check_bubblewrap(settings, which),
              check_chromium(settings), *check_keys(settings), check_workspace(settings), *check_memory(settings)]
    ollama = check_ollama(settings)
    if ollama is not None:
        checks.append(ollama)
    return checks


STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def doctor_command(settings: Settings, json_output: bool,
                   which: Callable[[str], str | None] | None = None) -> int:
    """Print the checks (a table, or JSON); 1 when any failed."""
    import json

    checks = run_checks(settings, which or default_which)
    failed = any(c.status == "fail" for c in checks)
    if json_output:
        print(json.dumps({"ok": not failed, "model": settings.model, "checks": [c.as_dict() for c in checks]},
                         indent=2))
        return 1 if failed else 0
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    table = Table(Column("check", no_wrap=True), "status", Column("detail", overflow="fold"),
                  Column("fix", overflow="fold"), title=f"autogpt doctor (model {settings.model})",
                  title_justify="left")
    for c in checks:
        table.add_row(c.name, Text(c.status, style=STYLE[c.status]), Text(c.detail), Text(c.fix))
    out = Console(highlight=False)
    out.print(table)
    counts = {s: sum(c.status == s for c in checks) for s in STYLE}
    out.print(f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed", markup=False)
    return 1 if failed else 0
