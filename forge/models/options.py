"""`LLMOptions`: what a model needs to know, passed in (the CLI builds it from its Settings)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LLMOptions:
    api_base: str | None = None  # a self-hosted or OpenAI-compatible server (Ollama, vLLM, ...)
    api_key: str | None = None  # passed to the provider; None = the provider's own variable (litellm reads it)
    temperature: float = 0.0
    max_tokens: int | None = None  # reply cap; None = the backend's default
    timeout: float = 120.0  # seconds per request
    max_retries: int = 4  # on 429, 5xx, timeouts and connection errors
    context_window: int | None = None  # override the model's own window
    local_n_ctx: int = 8192  # embedded model: context it runs with (capped at what it was trained on)
    local_n_threads: int | None = None  # embedded model: None = all cores up to 8
    local_gpu_layers: int | None = None  # local models: layers offloaded to a GPU; None = all if llama.cpp can
    models_dir: Path | None = None  # where `local/NAME` finds pulled models (Settings.models_path())
    ollama_host: str | None = None  # ollama/ models: the server when api_base is not set

    @classmethod
    def from_settings(cls, settings: Any) -> LLMOptions:
        """Options from any object with the same field names (the CLI's Settings)."""
        mapping = {"timeout": "llm_timeout", "max_retries": "llm_max_retries", "context_window": "max_context_tokens"}
        values: dict[str, Any] = {}
        for f in fields(cls):
            source = mapping.get(f.name, f.name)
            if hasattr(settings, source):
                values[f.name] = getattr(settings, source)
        if callable(getattr(settings, "models_path", None)):
            values["models_dir"] = settings.models_path()
        return cls(**values)
