"""Moved: see forge.models.scripted."""

from forge.models.scripted import ScriptedModel, ScriptExhaustedError, decision

__all__ = ["ScriptExhaustedError", "ScriptedModel", "decision"]
