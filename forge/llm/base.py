"""Moved: see forge.models.base."""

from forge.models.base import ChatModel, LLMResponse, Model, ToolCall, Usage

__all__ = ["ChatModel", "LLMResponse", "Model", "ToolCall", "Usage"]
