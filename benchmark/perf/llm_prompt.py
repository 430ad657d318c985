"""A realistic agent prompt for the LLM benchmarks: the shipped system template, six typical tools
(stand-ins with the built-ins' signatures, so the benchmarks do not depend on forge.tools.builtin)
and a goal."""

from __future__ import annotations

import sys
from pathlib import Path
from string import Template
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable as `python benchmark/perf/<script>.py` without installing
    sys.path.insert(0, str(ROOT))

from forge.tools.base import Tool, ToolRegistry  # noqa: E402


def web_search(query: str, num_results: int = 5) -> str:
    """Search the web and return titles, links and snippets.

    Args:
        query: What to search for.
        num_results: How many results to return.
    """
    return ""


def read_file(path: str) -> str:
    """Read a text file from the workspace.

    Args:
        path: File path relative to the workspace.
    """
    return ""


def write_file(path: str, content: str) -> str:
    """Write text to a file in the workspace, replacing it.

    Args:
        path: File path relative to the workspace.
        content: The text to write.
    """
    return ""


def list_folder(path: str = ".") -> str:
    """List the files in a workspace folder.

    Args:
        path: Folder relative to the workspace.
    """
    return ""


def execute_python(code: str) -> str:
    """Run Python code in a sandbox and return its output.

    Args:
        code: The Python source to run.
    """
    return ""


def finish(reason: str) -> str:
    """Finish the run when the goal is reached.

    Args:
        reason: A short summary of what was achieved.
    """
    return ""


TOOLS = ToolRegistry(
    [Tool(f) for f in (web_search, read_file, write_file, list_folder, execute_python)]
    + [Tool(finish, ends_run=True)]
)
GOAL = "Find the population of Paris and write it to a file named paris.txt."


def _items(name: str) -> str:
    lines = (ROOT / "prompts" / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(f"- {ln.strip()}" for ln in lines if ln.strip())


def messages(goal: str = GOAL) -> list[dict[str, Any]]:
    system = Template((ROOT / "prompts" / "system.txt").read_text(encoding="utf-8")).safe_substitute(
        ai_name="AutoGPT",
        ai_role="an autonomous agent that reaches the user's goal step by step using tools",
        constraints=_items("constraints.txt"),
        resources=_items("resources.txt"),
        best_practices=_items("best_practices.txt"),
        tools="\n".join(f"- {t.signature()}" for t in TOOLS),
    )
    step = Template((ROOT / "prompts" / "step.txt").read_text(encoding="utf-8")).safe_substitute(
        goal=goal, step=1, notes=""
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": step}]
