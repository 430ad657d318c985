"""`./run agent create NAME`: a new agent project in agents/NAME/ from the template next to this file."""

from __future__ import annotations

import importlib.util
import keyword
import re
import shutil
import sys
from pathlib import Path

from agent_manager import AgentCommandError

TEMPLATE = Path(__file__).resolve().parent / "template"
BUILTIN = "autogpt"  # the built-in agent's name in `./run agent`
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Template file names -> created names (dotfiles are kept out of the template's own tree).
_RENAMES = {"env.example": ".env.example", "gitignore": ".gitignore"}


def class_name(name: str) -> str:
    """my_agent -> MyAgent, research -> ResearchAgent."""
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
    return camel if camel.endswith("Agent") else f"{camel}Agent"


def check_name(name: str) -> None:
    """A name is a package name: an ASCII identifier that does not hide a module Python already has."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise AgentCommandError(
            f"agent name {name!r} is not a valid Python identifier (letters, digits and _, not starting with a "
            "digit, not a keyword); e.g. my_agent",
            code=2,
        )
    if name == BUILTIN:
        raise AgentCommandError(f"{BUILTIN!r} is the built-in agent; choose another name", code=2)
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        raise AgentCommandError(
            f"agent name {name!r} would hide the Python module of that name; choose another name", code=2
        )


def render(text: str, name: str) -> str:
    return text.replace("{{name}}", name).replace("{{class_name}}", class_name(name))


def create_agent(agents_dir: Path, name: str) -> Path:
    """Write agents_dir/NAME from the template; never touches an existing folder."""
    target = agents_dir / name
    if target.exists() or target.is_symlink():
        raise AgentCommandError(f"{target} already exists; choose another name or remove it first", code=2)
    check_name(name)
    agents_dir.mkdir(parents=True, exist_ok=True)
    try:
        target.mkdir()  # the claim: fails if the folder appeared meanwhile, so nothing is overwritten
    except FileExistsError:
        raise AgentCommandError(f"{target} already exists; choose another name or remove it first", code=2) from None
    try:
        for src in sorted(TEMPLATE.rglob("*")):
            if not src.is_file() or "__pycache__" in src.parts:
                continue
            rel = src.relative_to(TEMPLATE)
            parts = [name if p == "__package__" else p for p in rel.parts]
            leaf = parts[-1].removesuffix(".tmpl")
            parts[-1] = _RENAMES.get(leaf, leaf)
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(render(src.read_text(encoding="utf-8"), name), encoding="utf-8")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # ours: made above; never leave a half-made agent
        raise
    return target
