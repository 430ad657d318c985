"""Shared by tests/test_benchmark_*.py: challenge folders written on the fly, scripted agents, options."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark"
HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()


def decision(tool: str, **args: Any) -> dict[str, Any]:
    return {"thoughts": {"text": f"use {tool}", "reasoning": "", "plan": "", "criticism": ""},
            "tool": tool, "tool_args": args}


def write_script(path: Path, items: list[Any]) -> str:
    path.write_text(json.dumps(items))
    return f"scripted/{path}"


def writes_then_finishes(path: str, content: str, *, sleep: float = 0.0) -> list[dict[str, Any]]:
    """A scripted agent: (optionally sleep in its code sandbox,) write_file, then finish."""
    steps = []
    if sleep:
        steps.append(decision("execute_python", code=f"import time; time.sleep({sleep})"))
    return [*steps, decision("write_file", path=path, content=content), decision("finish", reason="done")]


def make_challenge(
    root: Path, name: str, *, task: str = "", files: list[str] | None = None, should_contain: list[str] | None = None,
    solution: dict[str, str] | None = None, artifacts_in: dict[str, str] | None = None, cutoff: int = 60,
    dependencies: list[str] | None = None, category: str = "planning", eval_type: str = "file",
    difficulty: str = "basic",
) -> Path:
    """A challenge folder in agbenchmark's format under ROOT/NAME."""
    folder = root / name
    folder.mkdir(parents=True)
    data = {
        "name": name, "task": task or f"Task of {name}", "category": [category], "cutoff": cutoff,
        "dependencies": dependencies or [],
        "ground": {"answer": "", "should_contain": should_contain or [], "files": files or [],
                   "eval": {"type": eval_type}},
        "info": {"difficulty": difficulty},
    }
    (folder / "data.json").write_text(json.dumps(data))
    for kind, content in (("artifacts_out", solution), ("artifacts_in", artifacts_in)):
        for rel, text in (content or {}).items():
            path = folder / kind / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return folder


def options(tmp_path: Path, **kw: Any) -> Any:
    """RunOptions for tests: no built-in suite, reports under tmp_path, an eval sandbox that exists here."""
    from benchmark.runner import RunOptions
    from forge.config import Settings

    kw.setdefault("builtin", False)
    kw.setdefault("reports_dir", tmp_path / "reports")
    kw.setdefault("eval_settings", Settings(workspace=tmp_path / "ws", sandbox="bwrap" if HAS_BWRAP else "none"))
    kw.setdefault("start_timeout", 60.0)
    # The servers the runner starts must not pick up a developer's AUTOGPT_* settings.
    kw.setdefault("agent_env", {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")})
    return RunOptions(**kw)
