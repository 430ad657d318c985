"""The one exception tree of forge.

Every message states what went wrong *and* how to fix it, in one line, so the CLI can print
it as is (httpx `_exceptions.py`, llm `get_key`).

    AutoGPTError
    ├── ConfigError            user input or configuration is wrong -> CLI exit code 2
    │   ├── ModelNotFoundError
    │   ├── MissingAPIKeyError
    │   ├── WorkspaceError
    │   └── RunError           a stored run is missing, already finished, or damaged
    ├── LLMError               the model provider failed (after retries)
    │   ├── LLMAuthError       401/403: also a ConfigError, the key is wrong
    │   └── ModelServerUnavailableError  no server answers at a self-hosted model's address (Ollama)
    ├── DownloadError          pulling a model failed (Hub refusal, network, checksum mismatch)
    ├── ModelError             the *model* did something wrong; fed back to it as an observation
    │   ├── InvalidDecisionError
    │   └── ToolError          a tool refused or failed because of its arguments
    │       ├── PathOutsideWorkspaceError
    │       └── PolicyViolationError
"""

from __future__ import annotations


class AutoGPTError(Exception):
    """Base of every error forge raises on purpose."""


class ConfigError(AutoGPTError):
    """Bad usage or configuration. The CLI prints the message and exits with code 2."""


class ModelNotFoundError(ConfigError):
    pass


class MissingAPIKeyError(ConfigError):
    def __init__(self, env_var: str, model: str):
        self.env_var = env_var
        super().__init__(
            f"{env_var} is not set (needed by model {model!r}); export it or add it to .env, "
            "or use the embedded model with --model local/smollm2"
        )


class WorkspaceError(ConfigError):
    pass


class LLMError(AutoGPTError):
    """The provider failed and retries did not help."""


class LLMAuthError(LLMError, ConfigError):
    """401/403 from the provider: never retried."""


class ModelServerUnavailableError(LLMError):
    """Nothing answers at the model server's address: the user must start it. Not retried."""

    exit_code = 10


class DownloadError(AutoGPTError):
    """A model download failed: the Hub refused it, the network dropped, or a checksum did not match."""

    exit_code = 11


class ModelError(AutoGPTError):
    """Caused by the model's output; recorded and shown to the model, never raised to the user."""


class InvalidDecisionError(ModelError):
    pass


class ToolError(ModelError):
    pass


class PathOutsideWorkspaceError(ToolError):
    pass


class PolicyViolationError(ToolError):
    pass


class RunError(ConfigError):
    pass
