"""Forge: the framework under the AutoGPT CLI (agents, tools, LLM providers, memory, runs)."""

__version__ = "0.1.0"
