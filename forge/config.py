"""Typed configuration with explicit defaults, read from the environment and `.env`.

Every field can be set as `AUTOGPT_<FIELD>` (e.g. `AUTOGPT_MODEL=openai/gpt-4o-mini`); list fields
take JSON (`AUTOGPT_SHELL_ALLOWLIST='["ls","cat"]'`). CLI options override these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "local/smollm2"

# Commands execute_shell may run by default: read-only inspection and common dev tools.
DEFAULT_SHELL_ALLOWLIST = [
    "ls", "cat", "head", "tail", "wc", "grep", "echo", "pwd", "find", "sort", "uniq", "cut",
    "date", "python3", "python", "diff", "mkdir", "touch", "cp", "mv", "tr", "sed", "awk",
]
DEFAULT_SHELL_DENYLIST = [
    "rm", "sudo", "su", "curl", "wget", "ssh", "scp", "nc", "dd", "mkfs", "chmod", "chown",
    "kill", "pkill", "reboot", "shutdown",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUTOGPT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # LLM
    model: str = DEFAULT_MODEL
    fast_model: str | None = None
    api_base: str | None = None
    temperature: float = 0.0
    llm_timeout: float = 120.0
    llm_max_retries: int = 4
    # Embedded model
    local_n_ctx: int = 8192
    local_n_threads: int | None = None

    # Data
    workspace: Path = Path("workspace")
    agent_name: str = "autogpt"

    # Loop limits
    max_iterations: int = 25
    budget_usd: float | None = None
    max_seconds: float | None = None
    max_invalid_decisions: int = 3
    stuck_repeats: int = 3

    # Prompt
    ai_name: str = "AutoGPT"
    ai_role: str = "an autonomous agent that reaches the user's goal step by step with tools"
    constraints: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    best_practices: list[str] = Field(default_factory=list)
    prompts_dir: Path | None = None
    history_steps: int = 6
    max_observation_chars: int = 2000
    # Context window: None means the model's own (litellm's map, or n_ctx for the embedded model).
    max_context_tokens: int | None = None
    summary: bool = True  # summarise old steps with the LLM (fast_model when set) as the limit nears
    history_tokens: int = 1000  # budget for the one-line entries of steps older than history_steps

    # Long-term memory (Chroma, one store per agent)
    memory: bool = True
    embedding_model: str = "local/minilm"  # or a litellm embedding model, e.g. text-embedding-3-small
    memory_top_k: int = 5
    memory_prompt_tokens: int = 400  # budget for recalled memories in each prompt

    # Sandbox and policies
    sandbox: str = "bwrap"  # "bwrap" or "none" (unsafe: runs code as the current user)
    code_timeout: float = 30.0
    code_memory_mb: int = 512
    code_max_processes: int = 64
    code_output_chars: int = 10_000
    shell_allowlist: list[str] = Field(default_factory=lambda: list(DEFAULT_SHELL_ALLOWLIST))
    shell_denylist: list[str] = Field(default_factory=lambda: list(DEFAULT_SHELL_DENYLIST))
    shell_timeout: float = 30.0

    # Web
    search_backend: str = "ddgs"
    searx_url: str | None = None  # base URL of a SearXNG instance for search_backend="searxng"
    browser_path: str = "/usr/bin/chromium"
    web_timeout: float = 20.0
    # Private/loopback/link-local destinations the web tools may reach anyway: hosts, host:port, IPs,
    # IP:port or CIDRs, as a JSON list or comma-separated (forge/security/netguard.py).
    web_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("web_allowlist", mode="before")
    @classmethod
    def _split_web_allowlist(cls, value: object) -> object:
        from forge.security.netguard import Allowlist, split_setting

        entries = split_setting(value)
        if isinstance(entries, list):
            try:
                Allowlist.parse(str(e) for e in entries)
            except Exception as e:  # ConfigError -> pydantic's ValidationError with this message
                raise ValueError(str(e)) from None
        return entries

    def agent_dir(self) -> Path:
        return self.workspace / "agents" / self.agent_name

    def agent_workspace(self) -> Path:
        """The folder the agent's file tools are confined to."""
        return self.agent_dir() / "workspace"

    def runs_dir(self) -> Path:
        return self.workspace / "runs"

    def memory_dir(self) -> Path:
        """The agent's persistent Chroma store."""
        return self.agent_dir() / "memory"

    def workflows_dir(self) -> Path:
        """Workflow data: runs/, cache/, and files/ (the folder file blocks are confined to)."""
        return self.workspace / "workflows"
