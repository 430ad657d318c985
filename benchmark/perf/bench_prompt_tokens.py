"""Tokens (cl100k_base) of the system prompt plus the tool specs of the default tools.

Target: <= 700. Counted twice: the system message alone (which lists the tools as compact
signatures) and, for providers with native function calling, system message + JSON tool specs.

    python benchmark/perf/bench_prompt_tokens.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from forge.models.env import setup_environment  # noqa: E402


def main() -> None:
    setup_environment(None)  # tiktoken's encodings from the litellm wheel, no download
    import tiktoken

    from forge.agent.prompt import PromptBuilder
    from forge.config import Settings
    from forge.tools.base import ToolRegistry

    enc = tiktoken.get_encoding("cl100k_base")
    tools = ToolRegistry.from_plugins()
    system = PromptBuilder.from_options(Settings(), tools, "goal").system_message["content"]
    specs = json.dumps([t.function_spec() for t in tools])
    n_system = len(enc.encode(system))
    n_specs = len(enc.encode(specs))
    print(f"default tools: {', '.join(tools.names())}")
    print(f"system prompt incl. tool signatures: {n_system} tokens (target <= 700)")
    print(f"JSON function specs (sent instead of signatures only to function-calling providers): {n_specs} tokens")


if __name__ == "__main__":
    main()
