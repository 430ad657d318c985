"""Models: the `Model` base class, one subclass per backend, and `get_model` (one registry, fed by plugins).

    from forge.models import LLMOptions, get_model
    model = get_model("local/smollm2", LLMOptions(temperature=0))
    reply = await model.complete([{"role": "user", "content": "hi"}])

Backends import lazily: `forge.models.litellm_model` (litellm, seconds to import),
`forge.models.local` (llama.cpp) and `forge.models.scripted` (tests) load only when used.
"""

from forge.models.base import ChatModel, LLMResponse, Model, ToolCall, Usage
from forge.models.env import setup_environment
from forge.models.options import LLMOptions
from forge.models.registry import get_model
from forge.models.scripted import ScriptedModel, decision
from forge.models.sync import run_sync

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
