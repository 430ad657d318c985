"""Moved: see forge.models.registry (which takes LLMOptions instead of Settings)."""

from __future__ import annotations

from typing import Any

from forge.models.base import Model
from forge.models.options import LLMOptions
from forge.models.registry import get_model as _get_model


def get_model(model: str, settings: Any = None) -> Model:
    return _get_model(model, LLMOptions.from_settings(settings) if settings is not None else None)
