"""Forge: the framework under the AutoGPT CLI. Build your own agent in a few lines:

    from forge import BaseAgent, ScriptedModel, ToolRegistry, tool

    @tool
    def shout(text: str) -> str:
        '''Say something loudly.

        Args:
            text: What to say.
        '''
        return text.upper()

    agent = BaseAgent("Greet the world", model=ScriptedModel([...]), tools=ToolRegistry([shout]), workspace="ws")
    outcome = agent.run_sync()

See forge/README.md for the guide and docs/architecture.md for how the parts fit. Names are
imported on first use, so `import forge` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forge.lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # agents
    "BaseAgent": "forge.agent.base",
    "Proposal": "forge.agent.base",
    "Verdict": "forge.agent.base",
    "AutoGPTAgent": "forge.agent.agent",
    "default_components": "forge.agent.agent",
    "AgentConfig": "forge.agent.config",
    "AgentProfile": "forge.agent.config",
    "Component": "forge.agent.components",
    "Directives": "forge.agent.components",
    "StopRun": "forge.agent.components",
    "LongTermMemory": "forge.agent.components",
    "HistorySummaries": "forge.agent.components",
    "StuckDetector": "forge.agent.components",
    "Outcome": "forge.agent.outcome",
    "Status": "forge.agent.outcome",
    "Decision": "forge.agent.decision",
    # tools
    "tool": "forge.tools.base",
    "Tool": "forge.tools.base",
    "ToolContext": "forge.tools.base",
    "ToolRegistry": "forge.tools.base",
    # models
    "Model": "forge.models.base",
    "ChatModel": "forge.models.base",
    "LLMResponse": "forge.models.base",
    "Usage": "forge.models.base",
    "LLMOptions": "forge.models.options",
    "get_model": "forge.models.registry",
    "ScriptedModel": "forge.models.scripted",
    "setup_environment": "forge.models.env",
    "Plugins": "forge.plugins",
    "get_plugins": "forge.plugins",
    # memory and events
    "MemoryStore": "forge.memory.store",
    "RunLog": "forge.runs.log",
    "EventSink": "forge.events.sinks",
    "MemorySink": "forge.events.sinks",
    "Settings": "forge.config",
    # errors
    "AutoGPTError": "forge.errors",
    "ConfigError": "forge.errors",
    "LLMError": "forge.errors",
    "ModelError": "forge.errors",
    "ToolError": "forge.errors",
    "RunError": "forge.errors",
    "WorkspaceError": "forge.errors",
}

__all__ = [
    "AgentConfig",
    "AgentProfile",
    "AutoGPTAgent",
    "AutoGPTError",
    "BaseAgent",
    "ChatModel",
    "Component",
    "ConfigError",
    "Decision",
    "Directives",
    "EventSink",
    "HistorySummaries",
    "LLMError",
    "LLMOptions",
    "LLMResponse",
    "LongTermMemory",
    "MemorySink",
    "MemoryStore",
    "Model",
    "ModelError",
    "Outcome",
    "Plugins",
    "Proposal",
    "RunError",
    "RunLog",
    "ScriptedModel",
    "Settings",
    "Status",
    "StopRun",
    "StuckDetector",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "Usage",
    "Verdict",
    "WorkspaceError",
    "default_components",
    "get_model",
    "get_plugins",
    "setup_environment",
    "tool",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:
    from forge.agent.agent import AutoGPTAgent, default_components
    from forge.agent.base import BaseAgent, Proposal, Verdict
    from forge.agent.components import (
        Component,
        Directives,
        HistorySummaries,
        LongTermMemory,
        StopRun,
        StuckDetector,
    )
    from forge.agent.config import AgentConfig, AgentProfile
    from forge.agent.decision import Decision
    from forge.agent.outcome import Outcome, Status
    from forge.config import Settings
    from forge.errors import (
        AutoGPTError,
        ConfigError,
        LLMError,
        ModelError,
        RunError,
        ToolError,
        WorkspaceError,
    )
    from forge.events.sinks import EventSink, MemorySink
    from forge.memory.store import MemoryStore
    from forge.models.base import ChatModel, LLMResponse, Model, Usage
    from forge.models.env import setup_environment
    from forge.models.options import LLMOptions
    from forge.models.registry import get_model
    from forge.models.scripted import ScriptedModel
    from forge.plugins import Plugins, get_plugins
    from forge.runs.log import RunLog
    from forge.tools.base import Tool, ToolContext, ToolRegistry, tool
