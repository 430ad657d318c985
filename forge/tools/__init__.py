"""Tool registry and the `@tool` decorator."""

from forge.tools.base import Tool, ToolContext, ToolRegistry, tool

__all__ = ["Tool", "ToolContext", "ToolRegistry", "tool"]
