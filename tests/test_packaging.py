"""The built wheel stands on its own: it carries the prompt templates and no tests, and a scripted
agent installed from it runs outside the source tree.

The wheel is built from a copy of the sources (so no stale `build/` folder leaks in) and installed
with --no-deps into a fresh venv that sees the project venv's packages through a .pth line: offline
and fast, and the wheel's own `forge` wins because the venv's site-packages comes first.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from forge.models.scripted import decision

SRC = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(p.name for p in (SRC / "forge" / "prompts").glob("*.txt"))
PACKAGES = ("forge", "autogpt_cli", "benchmark")

# Runs the real CLI entry point from the installed wheel, recording every prompt the scripted
# model receives (the CLI has no switch that prints the prompt).
RECORDING_CLI = """
import json, sys
from forge.models import scripted as testing

out, sys.argv = sys.argv[1], ["autogpt", *sys.argv[2:]]
complete = testing.ScriptedModel.complete

def recording(self, messages, *args, **kwargs):
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(messages) + "\\n")
    return complete(self, messages, *args, **kwargs)

testing.ScriptedModel.complete = recording
from autogpt_cli.main import main
main()
"""


class WheelEnv:
    def __init__(self, root: Path, wheel: Path, venv: Path):
        self.root, self.wheel, self.venv = root, wheel, venv
        self.python = venv / "bin" / "python"
        self.autogpt = venv / "bin" / "autogpt"

    def env(self) -> dict[str, str]:
        drop = ("AUTOGPT_", "PYTHONPATH", "VIRTUAL_ENV")
        return {k: v for k, v in os.environ.items() if not k.startswith(drop)}

    def run(self, *argv: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in argv], cwd=cwd, env=self.env(), capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture(scope="session")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> WheelEnv:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SRC / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(SRC / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "results"))
    dist = root / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    (venv_site,) = (venv / "lib").glob("python3*/site-packages")
    (venv_site / "project_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    return WheelEnv(root, wheel, venv)


def test_wheel_holds_the_templates_and_no_tests(wheel_env: WheelEnv) -> None:
    names = zipfile.ZipFile(wheel_env.wheel).namelist()
    assert TEMPLATES and sorted(n.removeprefix("forge/prompts/") for n in names
                                if n.startswith("forge/prompts/")) == TEMPLATES
    assert not [n for n in names if n.startswith("tests/") or Path(n).name.startswith("test_")
                or Path(n).name == "conftest.py"]
    assert "forge/agent/prompt.py" in names and "autogpt_cli/main.py" in names


def test_installed_wheel_imports_its_own_copy(wheel_env: WheelEnv, tmp_path: Path) -> None:
    result = wheel_env.run(wheel_env.python, "-c", "import forge, autogpt_cli; print(forge.__file__)", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(wheel_env.venv), result.stdout


def test_scripted_agent_runs_from_the_wheel_outside_the_source_tree(wheel_env: WheelEnv, tmp_path: Path) -> None:
    assert not tmp_path.resolve().is_relative_to(SRC)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        decision("write_file", path="note.txt", content="from the wheel"),
        decision("finish", reason="wrote the note"),
    ]))
    common = ["run", "Write a note", "--model", f"scripted/{script}", "--continuous", "--no-memory"]

    # The console script the wheel installed.
    result = wheel_env.run(wheel_env.autogpt, *common, "--workspace", tmp_path / "ws1", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (note,) = (tmp_path / "ws1").rglob("note.txt")  # in the agent's folder of the workspace
    assert note.read_text() == "from the wheel"
    assert "not found" not in result.stderr

    # The same entry point, recording the prompts: they hold the shipped templates' text.
    prompts = tmp_path / "prompts.jsonl"
    result = wheel_env.run(wheel_env.python, "-c", RECORDING_CLI, prompts, *common, "--workspace", tmp_path / "ws2",
                           cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    calls = [json.loads(line) for line in prompts.read_text().splitlines()]
    assert len(calls) == 2
    system, step = calls[0][0]["content"], calls[0][-1]["content"]
    template = (SRC / "forge" / "prompts" / "system.txt").read_text()
    fixed_lines = [ln for ln in template.splitlines() if ln.strip() and "$" not in ln]
    assert fixed_lines and all(ln in system for ln in fixed_lines)
    first_constraint = (SRC / "forge" / "prompts" / "constraints.txt").read_text().splitlines()[0].strip()
    assert f"- {first_constraint}" in system
    assert "Goal: Write a note" in step and "Reply with your next decision as one JSON object." in step
