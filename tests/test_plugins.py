"""One plugin mechanism: a plugin adds a tool, a block, a model and a search backend through the
`autogpt` entry-point group; a name claimed twice is an error naming both plugins."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from forge.blocks.registry import BlockRegistry
from forge.config import Settings
from forge.models import LLMOptions, get_model, run_sync
from forge.plugins import PluginError, Plugins, hookimpl
from forge.tools.base import ToolRegistry
from forge.tools.web import get_search_backend

PLUGIN = '''
from forge.blocks.base import Block, BlockContext, BlockOutput, EmptyModel
from forge.models.base import LLMResponse, Model
from forge.plugins import hookimpl
from forge.tools import tool


@tool
def acme_echo(text: str) -> str:
    """Echo a text back.

    Args:
        text: What to echo.
    """
    return "acme:" + text


class AcmeBlock(Block):
    id = "acme_block"
    name = "Acme"
    description = "Shout the input."

    class Input(EmptyModel):
        text: str

    class Output(EmptyModel):
        text: str

    async def run(self, input, ctx: BlockContext) -> BlockOutput:
        yield "text", input.text.upper()


class AcmeModel(Model):
    def __init__(self, name):
        self.name = "acme/" + name

    async def complete(self, messages, *, tools=(), decision_schema=None):
        return LLMResponse(content="acme says hi", model=self.name)


class AcmeSearch:
    def search(self, query, max_results):
        return []


@hookimpl
def register_tools(register):
    register(acme_echo)


@hookimpl
def register_blocks(register):
    register(AcmeBlock)


@hookimpl
def register_models(register):
    register("acme/", lambda rest, options: AcmeModel(rest), description="Acme's models")


@hookimpl
def register_search_backends(register):
    register("acme", lambda settings: AcmeSearch())
'''


def install_plugin(folder: Path, module: str, source: str, dist: str = "acme-plugin") -> None:
    """A plugin as pip would leave it: the module and a dist-info with an `autogpt` entry point."""
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    info = folder / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[autogpt]\n{module.split('_')[0]} = {module}\n")


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_plugin(tmp_path, "acme_plugin", PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("acme_plugin", None)


def test_a_plugin_adds_a_tool_a_block_a_model_and_a_search_backend(acme: Path, monkeypatch) -> None:
    from forge import plugins

    manager = Plugins()
    monkeypatch.setattr(plugins, "_plugins", manager)  # what get_plugins() returns for this test
    assert "acme-plugin:acme" in manager.names()

    tools = ToolRegistry.from_plugins()
    assert tools.get("acme_echo")(None, {"text": "hi"}) == "acme:hi"  # type: ignore[arg-type, misc]
    assert "read_file" in tools  # the built-ins arrive the same way
    assert manager.tools()["acme_echo"].plugin == "acme-plugin:acme"

    blocks = BlockRegistry.from_plugins()
    assert "acme_block" in blocks and "llm_call" in blocks

    model = get_model("acme/rocket", LLMOptions())
    assert model.name == "acme/rocket"
    assert run_sync(model.complete([{"role": "user", "content": "hi"}])).content == "acme says hi"
    assert model.context_window is None and model.count_tokens("12345678") == 2  # the base class defaults

    backend = get_search_backend("acme", Settings(_env_file=None))
    assert type(backend).__name__ == "AcmeSearch"


def test_a_duplicate_name_is_an_error_naming_both_plugins(acme: Path) -> None:
    manager = Plugins()
    clash = types.SimpleNamespace()

    @hookimpl
    def register_tools(register: Any) -> None:
        from forge.tools.builtin import read_file

        register(read_file)

    @hookimpl
    def register_models(register: Any) -> None:
        register("acme/", lambda rest, options: None)

    clash.register_tools = register_tools
    clash.register_models = register_models
    manager.register(clash, name="clash")
    with pytest.raises(PluginError, match=r"tool 'read_file' is registered by both 'forge.default_plugins.tools' "
                                          r"and 'clash'"):
        manager.tools()
    with pytest.raises(PluginError, match=r"model prefix 'acme/' is registered by both 'acme-plugin:acme' and 'clash'"):
        manager.models()


def test_a_plugin_that_fails_to_import_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "broken_plugin", "import no_such_module_xyz\n", dist="broken-plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(PluginError, match=r"plugin 'broken-plugin:broken' .*No module named 'no_such_module_xyz'"):
        Plugins()


def _cli(args: list[str], pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([sys.executable, "-m", "autogpt_cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_lists_plugin_tools_and_models(acme: Path) -> None:
    out = _cli(["tools", "list", "--json"], acme)
    assert out.returncode == 0, out.stderr
    tools = {t["name"]: t for t in json.loads(out.stdout)}
    assert tools["acme_echo"]["plugin"] == "acme-plugin:acme"
    assert tools["read_file"]["plugin"] == "forge.default_plugins.tools"
    assert tools["acme_echo"]["description"] == "Echo a text back."

    out = _cli(["models", "backends", "--json"], acme)
    assert out.returncode == 0, out.stderr
    prefixes = {m["prefix"]: m["plugin"] for m in json.loads(out.stdout)}
    assert prefixes["acme/"] == "acme-plugin:acme" and prefixes["local/"] == "forge.default_plugins.models"


def test_cli_duplicate_is_one_line_and_exit_2(tmp_path: Path) -> None:
    install_plugin(tmp_path, "dupe_plugin", '''
        from forge.plugins import hookimpl
        from forge.tools.builtin import finish

        @hookimpl
        def register_tools(register):
            register(finish)
    ''', dist="dupe-plugin")
    out = _cli(["tools", "list"], tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert "'finish' is registered by both 'forge.default_plugins.tools' and 'dupe-plugin:dupe'" in out.stderr


def test_listing_imports_no_provider_sdk() -> None:
    """Registering runs every hook but calls no factory: no litellm, chromadb or llama.cpp import."""
    code = (
        "import sys; from forge.plugins import Plugins; p = Plugins(); "
        "p.tools(); p.blocks(); p.models(); p.search_backends(); "
        "print([m for m in ('litellm', 'chromadb', 'llama_cpp') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
