"""Built-in model backends: the scripted fake, the embedded llama.cpp model, and litellm for the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from forge.plugins import hookimpl

if TYPE_CHECKING:
    from forge.models.base import Model
    from forge.models.options import LLMOptions


def scripted(rest: str, options: LLMOptions) -> Model:
    from forge.models.scripted import ScriptedModel

    return ScriptedModel.from_file(rest, context_window=options.context_window)


def local(rest: str, options: LLMOptions) -> Model:
    from forge.models.local import LocalModel, check_local_model

    model = LocalModel(rest, options)  # an unknown name -> ModelNotFoundError listing the known ones
    check_local_model(rest)  # not installed -> ConfigError naming the fix
    return model


def litellm(spec: str, options: LLMOptions) -> Model:
    from forge.models.litellm_model import LiteLLMModel, check_litellm_model

    check_litellm_model(spec, options)
    return LiteLLMModel(spec, options)


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register("scripted/", scripted, description="scripted/<file.json>: replies from a file (tests, demos)")
    register("local/", local, description="local/smollm2: the embedded llama.cpp model, offline")
    register(
        "",
        litellm,
        description="any litellm model string: openai/gpt-4o-mini, anthropic/..., ollama/llama3.1 (with --api-base)",
    )
