"""Configuration of one agent, as small typed objects passed to its constructor (defaults included).

The CLI builds these from its env/.env settings (`AgentConfig.from_options(settings)`); a program
embedding Forge builds them directly: `AgentConfig(max_iterations=10)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AgentProfile(BaseModel):
    """Who the agent is: shown in its system prompt, stored with the run so a resume keeps it."""

    model_config = ConfigDict(extra="forbid")

    ai_name: str = "AutoGPT"
    ai_role: str = "an autonomous agent that reaches the user's goal step by step with tools"
    agent_name: str = "autogpt"  # its data folder (workspace, memory) under the workspace root
    constraints: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    best_practices: list[str] = Field(default_factory=list)


class AgentConfig(BaseModel):
    """Limits of the loop and the shape of its prompt."""

    model_config = ConfigDict(extra="forbid")

    # Loop limits: the run stops with the matching status when one is reached.
    max_iterations: int = Field(default=25, ge=1)
    budget_usd: float | None = Field(default=None, ge=0)
    max_seconds: float | None = Field(default=None, gt=0)
    max_invalid_decisions: int = Field(default=3, ge=1)
    # Prompt
    prompts_dir: Path | None = None  # the user's template overrides
    history_steps: int = Field(default=6, ge=0)  # last steps shown in full
    history_tokens: int = Field(default=1000, ge=0)  # one-line entries of older steps
    max_observation_chars: int = Field(default=2000, ge=500)
    max_context_tokens: int | None = Field(default=None, ge=512)  # None: the model's own window

    @classmethod
    def from_options(cls, options: Any) -> AgentConfig:
        """Pick this config's fields from a larger options object (the CLI's Settings)."""
        return cls(**{name: getattr(options, name) for name in cls.model_fields if hasattr(options, name)})


def profile_from_options(options: Any) -> AgentProfile:
    return AgentProfile(**{n: getattr(options, n) for n in AgentProfile.model_fields if hasattr(options, n)})
