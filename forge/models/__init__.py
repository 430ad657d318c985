"""Models: the `Model` base class, one subclass per backend, and `get_model` (one registry, fed by plugins).

    from forge.models import LLMOptions, get_model
    model = get_model("local/smollm2", LLMOptions(temperature=0))
    reply = await model.complete([{"role": "user", "content": "hi"}])

Backends import lazily: `forge.models.litellm_model` (litellm, seconds to import),
`forge.models.local` (llama.cpp) and `forge.models.scripted` (tests) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forge.lazy import lazy_exports

if TYPE_CHECKING:
    from forge.models.base import ChatModel, LLMResponse, Model, ToolCall, Usage
    from forge.models.env import setup_environment
    from forge.models.options import LLMOptions
    from forge.models.registry import get_model
    from forge.models.scripted import ScriptedModel, decision
    from forge.models.sync import run_sync

# Resolved on first use, so importing one submodule (the CLI's forge.models.env) stays cheap.
_EXPORTS = {
    "ChatModel": "base",
    "LLMResponse": "base",
    "Model": "base",
    "ToolCall": "base",
    "Usage": "base",
    "setup_environment": "env",
    "LLMOptions": "options",
    "get_model": "registry",
    "ScriptedModel": "scripted",
    "decision": "scripted",
    "run_sync": "sync",
}
__all__ = [
    "ChatModel",
    "LLMOptions",
    "LLMResponse",
    "Model",
    "ScriptedModel",
    "ToolCall",
    "Usage",
    "decision",
    "get_model",
    "run_sync",
    "setup_environment",
]


__getattr__, __dir__ = lazy_exports(__name__, {name: f".{module}" for name, module in _EXPORTS.items()}, globals())
