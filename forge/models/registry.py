"""Model strings -> Model objects, through the model backends plugins register (forge.plugins).

    get_model("openai/gpt-4o-mini", LLMOptions(temperature=0.2))

The longest registered prefix wins (`scripted/`, `local/`, a plugin's own); the catch-all backend
(prefix "", litellm) takes the rest. Factories validate before the first call, so mistakes
surface as one clear line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forge.errors import ModelNotFoundError

if TYPE_CHECKING:
    from forge.models.base import Model
    from forge.models.options import LLMOptions
    from forge.plugins import ModelEntry, Plugins


def find_backend(spec: str, plugins: Plugins | None = None) -> tuple[ModelEntry, str]:
    """(the backend serving `spec`, the rest of the string after its prefix)."""
    from forge.plugins import get_plugins

    entries = (plugins or get_plugins()).models()
    prefixes = sorted((p for p in entries if p and spec.startswith(p)), key=len, reverse=True)
    if prefixes:
        return entries[prefixes[0]], spec[len(prefixes[0]) :]
    if "" in entries:
        return entries[""], spec
    known = ", ".join(f"{p}..." for p in sorted(entries)) or "none"
    raise ModelNotFoundError(f"no model backend serves {spec!r}; registered prefixes: {known}")


def get_model(spec: str, options: LLMOptions | None = None, *, plugins: Plugins | None = None) -> Model:
    """Resolve a model string. Raises ModelNotFoundError or MissingAPIKeyError (both ConfigErrors)."""
    from forge.models.options import LLMOptions

    spec = spec.strip()
    if not spec:
        raise ModelNotFoundError("empty model name; pass --model, e.g. local/smollm2 or openai/gpt-4o-mini")
    entry, rest = find_backend(spec, plugins)
    return entry.factory(rest, options or LLMOptions())
