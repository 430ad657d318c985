"""Typed options with explicit defaults: a plain pydantic model, built from arguments.

Library code never reads the environment or `.env` for these: the CLI does
(`autogpt_cli/settings.py`, where every field can be set as `AUTOGPT_<FIELD>`). List fields accept
JSON (`'["ls","cat"]'`) or a comma-separated string (`ls,cat`). Out-of-range values are refused.
The agent takes its own part as `forge.agent.config.AgentConfig` / `AgentProfile`; tools and
blocks read theirs (sandbox, shell policy, web) from the options in their context.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

_BRACKETED_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]")


def split_list_setting(value: Any) -> Any:
    """A list setting from the environment: JSON (`["ls", "cat"]`) or comma-separated (`ls,cat`).

    A value starting with `[` must be a JSON list, unless it is a bracketed IPv6 address (`[::1]:8080`,
    an allowlist entry)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            return loaded
        if not _BRACKETED_IPV6.match(text):
            raise ValueError('not a JSON list; write ["a", "b"] or a,b')
    return [item.strip() for item in text.split(",") if item.strip()]


StrList = Annotated[list[str], NoDecode]

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


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    # LLM
    model: str = DEFAULT_MODEL
    fast_model: str | None = None
    api_base: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    llm_timeout: float = Field(default=120.0, gt=0)
    llm_max_retries: int = Field(default=4, ge=0)
    # Embedded model
    local_n_ctx: int = Field(default=8192, ge=512)
    local_n_threads: int | None = Field(default=None, ge=1)
    local_gpu_layers: int | None = Field(default=None, ge=-1)  # None: all when llama.cpp has a GPU backend
    models_dir: Path | None = None  # pulled models (`autogpt models pull`); None: <workspace>/models
    ollama_host: str | None = None  # Ollama server for ollama/ models without --api-base (CLI: OLLAMA_HOST)

    # Data
    workspace: Path = Path("workspace")
    agent_name: str = "autogpt"
    # A folder of the user's the file tools and the code sandbox work in instead of the agent's own
    # (`--workdir`); used as it is (never made private), its changes kept for `autogpt runs undo`.
    workdir: Path | None = None

    # Loop limits
    max_iterations: int = Field(default=25, ge=1)
    budget_usd: float | None = Field(default=None, ge=0)
    max_seconds: float | None = Field(default=None, gt=0)
    max_invalid_decisions: int = Field(default=3, ge=1)
    stuck_repeats: int = Field(default=3, ge=2)
    # How the default agent decides: "single" (one prompt, one reply), "staged" (tool, then its
    # arguments: forge/agent/staged.py), or "auto" (staged for models that say they are small).
    decision_strategy: Literal["auto", "single", "staged"] = "auto"

    # Prompt
    ai_name: str = "AutoGPT"
    ai_role: str = "an autonomous agent that reaches the user's goal step by step with tools"
    constraints: StrList = Field(default_factory=list)
    resources: StrList = Field(default_factory=list)
    best_practices: StrList = Field(default_factory=list)
    prompts_dir: Path | None = None
    history_steps: int = Field(default=6, ge=0)
    max_observation_chars: int = Field(default=2000, ge=500)
    # Context window: None means the model's own (litellm's map, or n_ctx for the embedded model).
    max_context_tokens: int | None = Field(default=None, ge=512)
    summary: bool = True  # summarise old steps with the LLM (fast_model when set) as the limit nears
    history_tokens: int = Field(default=1000, ge=0)  # budget for the one-line entries of steps older than history_steps

    # Long-term memory (Chroma, one store per agent)
    memory: bool = True
    embedding_model: str = "local/minilm"  # or a litellm embedding model, e.g. text-embedding-3-small
    memory_top_k: int = Field(default=5, ge=0)
    memory_prompt_tokens: int = Field(default=400, ge=0)  # budget for recalled memories in each prompt

    # Tools: a folder of .py files whose @tool functions (or register_tools hooks) the agent also gets
    tools_dir: Path | None = None

    # Sandbox and policies
    sandbox: str = "bwrap"  # "bwrap" or "none" (unsafe: runs code as the current user)
    code_timeout: float = Field(default=30.0, gt=0)
    code_memory_mb: int = Field(default=512, ge=32)  # for all of a run's processes together
    code_memory_mechanism: str = "auto"  # how that total is enforced: auto, cgroup2, cgroup1 or watchdog
    code_max_processes: int = Field(default=64, ge=1)
    code_output_chars: int = Field(default=10_000, ge=200)
    shell_allowlist: StrList = Field(default_factory=lambda: list(DEFAULT_SHELL_ALLOWLIST))
    shell_denylist: StrList = Field(default_factory=lambda: list(DEFAULT_SHELL_DENYLIST))
    shell_timeout: float = Field(default=30.0, gt=0)

    # Web
    search_backend: str = "ddgs"
    searx_url: str | None = None  # base URL of a SearXNG instance for search_backend="searxng"
    browser_path: str = "/usr/bin/chromium"
    web_timeout: float = Field(default=20.0, gt=0)
    # Private/loopback/link-local destinations the web tools may reach anyway: hosts, host:port, IPs,
    # IP:port or CIDRs, as a JSON list or comma-separated (forge/security/netguard.py).
    web_allowlist: StrList = Field(default_factory=list)

    # Agent Protocol server (`autogpt serve`): a set key requires `Authorization: Bearer <key>`.
    api_key: SecretStr | None = None
    step_timeout: float = Field(default=600.0, gt=0)  # seconds one protocol step may take
    max_upload_mb: float = Field(default=100.0, gt=0)  # artifact uploads above this get 413

    @field_validator("constraints", "resources", "best_practices", "shell_allowlist", "shell_denylist", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_list_setting(value)

    @field_validator("workspace", mode="before")
    @classmethod
    def _workspace_given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; give a folder, e.g. ./workspace")
        return value

    @model_validator(mode="after")
    def _safe_workdir(self) -> Settings:
        if self.workdir is not None:
            from forge.tools.workspace import check_workdir

            self.workdir = check_workdir(self.workdir, self.workspace)
        return self

    @field_validator("web_allowlist", mode="before")
    @classmethod
    def _split_web_allowlist(cls, value: object) -> object:
        from forge.security.netguard import Allowlist

        entries = split_list_setting(value)
        if isinstance(entries, list):
            try:
                Allowlist.parse(str(e) for e in entries)
            except Exception as e:  # ConfigError -> pydantic's ValidationError with this message
                raise ValueError(str(e)) from None
        return entries

    def agent_dir(self) -> Path:
        return self.workspace / "agents" / self.agent_name

    def agent_workspace(self) -> Path:
        """The folder the agent's file tools and code are confined to: --workdir, else the agent's own."""
        return self.workdir if self.workdir is not None else self.agent_dir() / "workspace"

    def models_path(self) -> Path:
        """Where `autogpt models pull` puts models and `local/NAME` finds them."""
        return self.models_dir if self.models_dir is not None else self.workspace / "models"

    def runs_dir(self) -> Path:
        return self.workspace / "runs"

    def memory_dir(self) -> Path:
        """The agent's persistent Chroma store."""
        return self.agent_dir() / "memory"

    def workflows_dir(self) -> Path:
        """Workflow data: runs/, cache/, and files/ (the folder file blocks are confined to)."""
        return self.workspace / "workflows"
