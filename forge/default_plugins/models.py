"""Built-in model backends: the scripted fake, local llama.cpp models, Ollama, and litellm for the rest."""

from __future__ import annotations

import functools
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
    from forge.models.local import LocalModel, check_llama_cpp

    model = LocalModel(rest, options)  # unknown name or missing file -> one line naming the fix
    check_llama_cpp()  # not installed -> ConfigError naming the fix
    return model


def ollama(rest: str, options: LLMOptions, *, prefix: str) -> Model:
    from forge.models.ollama import OllamaModel

    return OllamaModel(prefix + rest, options)  # no server answering -> one line, exit code 10


def litellm(spec: str, options: LLMOptions) -> Model:
    from forge.models.litellm_model import LiteLLMModel, check_litellm_model

    check_litellm_model(spec, options)
    return LiteLLMModel(spec, options)


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register("scripted/", scripted, description="scripted/<file.json>: replies from a file (tests, demos)")
    register(
        "local/",
        local,
        description="local/smollm2 (embedded), local/NAME (`autogpt models pull NAME`), local//path/file.gguf",
    )
    for prefix in ("ollama/", "ollama_chat/"):
        register(
            prefix,
            functools.partial(ollama, prefix=prefix),
            description=f"{prefix}NAME: a model of a local Ollama server, decisions as structured output",
        )
    register(
        "",
        litellm,
        description="any litellm model string: openai/gpt-4o-mini, anthropic/..., ollama/llama3.1 (with --api-base)",
    )
