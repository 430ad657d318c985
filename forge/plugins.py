"""One plugin mechanism for tools, blocks, models and search backends (pluggy hooks).

A plugin is a module (or any object) with hook implementations:

    from forge.plugins import hookimpl

    @hookimpl
    def register_tools(register):
        register(my_tool)                      # a @tool, or a plain typed function

    @hookimpl
    def register_models(register):
        register("mine/", lambda rest, options: MyModel(rest), description="my own models")

Third-party packages expose theirs through the entry-point group `autogpt`
(`[project.entry-points.autogpt] myplugin = "my_package.plugin"`); the built-ins in
forge.default_plugins are registered the same way, by module. A name registered twice (by two
plugins, or twice by one) is an error naming both. Hooks run only when a registry is asked for,
and factories (models, search backends) are called only when used, so listing what is loaded
imports no provider SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from forge.errors import ConfigError

if TYPE_CHECKING:
    from forge.blocks.base import Block
    from forge.models.base import Model
    from forge.models.options import LLMOptions

PROJECT = "autogpt"
FILE_PLUGIN_PREFIX = "file:"  # plugins loaded from a user's folder (`--tools-dir`) are named file:PATH
ENTRY_POINT_GROUP = "autogpt"
DEFAULT_PLUGINS = (
    "forge.default_plugins.tools",
    "forge.default_plugins.blocks",
    "forge.default_plugins.models",
    "forge.default_plugins.search",
)

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

ModelFactory = Callable[[str, "LLMOptions"], "Model"]


class PluginError(ConfigError):
    """A plugin that cannot load, or two plugins claiming one name."""


class HookSpecs:
    @hookspec
    def register_tools(self, register: Callable[..., Any]) -> None:
        """Call `register(tool)` for each agent tool (a `Tool`, or a typed function with a docstring)."""

    @hookspec
    def register_blocks(self, register: Callable[..., Any]) -> None:
        """Call `register(BlockClass)` for each workflow block (a `Block` subclass with an `id`)."""

    @hookspec
    def register_models(self, register: Callable[..., Any]) -> None:
        """Call `register(prefix, factory, description="")` for model strings starting with `prefix`;
        `factory(rest_of_the_string, options) -> Model`. The prefix "" claims every string no other
        prefix does (the built-in litellm plugin)."""

    @hookspec
    def register_search_backends(self, register: Callable[..., Any]) -> None:
        """Call `register(name, factory, description="")`; `factory(settings) -> SearchBackend`."""


@dataclass(frozen=True)
class Registered:
    """One registered thing and the plugin it came from."""

    name: str
    obj: Any
    plugin: str
    description: str = ""


@dataclass(frozen=True)
class ModelEntry:
    prefix: str
    factory: ModelFactory
    plugin: str
    description: str = ""


class Plugins:
    """A plugin manager with the built-ins and (unless told otherwise) installed plugins."""

    def __init__(self, *, entry_points: bool = True, defaults: bool = True):
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(HookSpecs)
        if defaults:
            for module_name in DEFAULT_PLUGINS:
                self.pm.register(importlib.import_module(module_name), name=module_name)
        if entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            dist = getattr(getattr(ep, "dist", None), "name", None)
            name = f"{dist}:{ep.name}" if dist else ep.name
            if self.pm.has_plugin(name) or self.pm.is_blocked(name):
                continue
            try:
                plugin = ep.load()
            except Exception as e:  # someone else's package: one line naming it and the fix
                raise PluginError(
                    f"plugin {name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}; "
                    "fix or uninstall that package"
                ) from None
            self.register(plugin, name=name)

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Add a plugin (a module or object with @hookimpl functions); returns its name."""
        try:
            registered = self.pm.register(plugin, name=name)
        except ValueError as e:  # pluggy: already registered
            raise PluginError(f"plugin {name or plugin!r} is registered twice: {e}") from None
        except pluggy.PluginValidationError as e:
            raise PluginError(f"plugin {name or plugin!r} is not valid: {e}; fix its hook functions") from None
        return registered or (name or str(plugin))

    def load_dir(self, folder: Path, option: str = "--tools-dir") -> list[str]:
        """Register each `.py` file of a user folder as a plugin named `file:PATH`: its hook functions,
        or, without any, the `@tool` objects it defines (a file of tools needs no hook). Returns the names."""
        from forge.tools.base import Tool

        names = []
        for path, module in import_folder(folder, "autogpt_user_tools", option, "tool"):
            if any(hasattr(getattr(module, attr, None), f"{PROJECT}_impl") for attr in dir(module)):
                plugin: Any = module
            else:
                tools = [obj for obj in vars(module).values() if isinstance(obj, Tool)]
                if not tools:
                    raise PluginError(
                        f"tool file {path} defines no tools; decorate functions with @tool "
                        "(from forge.tools import tool) or add a register_tools hook"
                    )
                plugin = _ToolsOf(tools)
            names.append(self.register(plugin, name=f"{FILE_PLUGIN_PREFIX}{path}"))
        return names

    def names(self) -> list[str]:
        return [self.pm.get_name(p) or repr(p) for p in self.pm.get_plugins()]

    def _collect(self, hook: str, what: str) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        """Call every plugin's `hook` with its own `register`, yielding (plugin, args, kwargs) per call."""
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

            def register(*args: Any, **kwargs: Any) -> None:
                calls.append((args, kwargs))  # noqa: B023 - called only inside this iteration

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as e:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed while registering {what}: {type(e).__name__}: {e}; "
                    "fix or uninstall it"
                ) from None
            for args, kwargs in calls:
                yield impl.plugin_name, args, kwargs

    @staticmethod
    def _add(found: dict[str, Registered], kind: str, entry: Registered) -> None:
        previous = found.get(entry.name)
        if previous is not None:
            raise PluginError(
                f"{kind} {entry.name!r} is registered by both {previous.plugin!r} and {entry.plugin!r}; "
                "uninstall one of them or rename one"
            )
        found[entry.name] = entry

    def tools(self) -> dict[str, Registered]:
        """Tool name -> Registered(obj=Tool), in registration order (built-ins first)."""
        from forge.tools.base import Tool

        found: dict[str, Registered] = {}
        for plugin, args, kwargs in self._collect("register_tools", "tools"):
            t = _arg(args, kwargs, 0, "tool")
            t = t if isinstance(t, Tool) else Tool(t)
            self._add(found, "tool", Registered(t.name, t, plugin, t.description))
        return found

    def blocks(self) -> dict[str, Registered]:
        """Block id -> Registered(obj=Block subclass)."""
        from forge.blocks.base import Block

        found: dict[str, Registered] = {}
        for plugin, args, kwargs in self._collect("register_blocks", "blocks"):
            block: type[Block] = _arg(args, kwargs, 0, "block")
            if not (isinstance(block, type) and issubclass(block, Block)) or not getattr(block, "id", None):
                raise PluginError(f"plugin {plugin!r} registered {block!r}, not a Block subclass with an `id`")
            self._add(found, "block", Registered(block.id, block, plugin, block.description))
        return found

    def models(self) -> dict[str, ModelEntry]:
        """Model string prefix -> ModelEntry."""
        found: dict[str, Registered] = {}
        for plugin, args, kwargs in self._collect("register_models", "models"):
            prefix, factory = _arg(args, kwargs, 0, "prefix"), _arg(args, kwargs, 1, "factory")
            what = "model prefix" if prefix else "catch-all model backend"
            self._add(found, what, Registered(prefix, factory, plugin, kwargs.get("description", "")))
        return {k: ModelEntry(k, v.obj, v.plugin, v.description) for k, v in found.items()}

    def search_backends(self) -> dict[str, Registered]:
        """Search backend name -> Registered(obj=factory)."""
        found: dict[str, Registered] = {}
        for plugin, args, kwargs in self._collect("register_search_backends", "search backends"):
            name, factory = _arg(args, kwargs, 0, "name"), _arg(args, kwargs, 1, "factory")
            self._add(found, "search backend", Registered(name, factory, plugin, kwargs.get("description", "")))
        return found


class _ToolsOf:
    """A plugin registering a fixed list of tools (a user's file of `@tool` functions)."""

    def __init__(self, tools: list[Any]):
        self._tools = tools

    @hookimpl
    def register_tools(self, register: Callable[..., Any]) -> None:
        for t in self._tools:
            register(t)


def import_file(path: Path, namespace: str, option: str, what: str = "plugin") -> ModuleType:
    """Import a user's `.py` file as module `namespace.stem`: its errors are one line naming the file."""
    name = f"{namespace}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load {what} file {path} as Python; give {option} a folder of .py files")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a user's file: report it as their error, in one line
        sys.modules.pop(name, None)
        raise PluginError(f"cannot load {what} file {path}: {type(e).__name__}: {e}; fix the file") from None
    return module


def import_folder(folder: Path, namespace: str, option: str, what: str = "plugin") -> list[tuple[Path, ModuleType]]:
    """Every `*.py` file of a user folder (not `_*.py`), imported in name order: `--tools-dir`, `--blocks-dir`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PluginError(f"{what}s folder {folder} does not exist; fix {option}")
    return [(path, import_file(path, namespace, option, what))
            for path in sorted(folder.glob("*.py")) if not path.name.startswith("_")]


def source_of(plugin: str) -> str:
    """Where a registered thing comes from, for listings: built-in, a file, or an installed plugin."""
    if plugin.startswith("forge.default_plugins."):
        return "built-in"
    if plugin.startswith(FILE_PLUGIN_PREFIX):
        return f"file {plugin.removeprefix(FILE_PLUGIN_PREFIX)}"
    return f"plugin {plugin}"


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    """A `register(...)` argument given by position or by name."""
    if len(args) > index:
        return args[index]
    if name in kwargs:
        return kwargs[name]
    raise PluginError(f"register() needs `{name}`; see forge.plugins.HookSpecs")


_plugins: Plugins | None = None
_plugins_lock = threading.Lock()


def get_plugins() -> Plugins:
    """The process's plugin manager: built-ins plus installed plugins, loaded on first use."""
    global _plugins
    if _plugins is None:
        with _plugins_lock:
            if _plugins is None:
                _plugins = Plugins()
    return _plugins


def plugins_with(tools_dir: Path | None = None) -> Plugins:
    """The process's plugins, or, with a folder of tool files (`--tools-dir`), a manager with those too."""
    if tools_dir is None:
        return get_plugins()
    plugins = Plugins()
    plugins.load_dir(tools_dir)
    return plugins


def reset_plugins() -> None:
    """Forget the loaded plugins (the next get_plugins() loads them again), e.g. after installing one."""
    global _plugins
    with _plugins_lock:
        _plugins = None
