"""Model strings -> ChatModel, validated before the first call so mistakes surface as one clear line.

scripted/<file.json>   ScriptedModel (tests, demos; no network)
local/<name>           the embedded model, in process (see forge.llm.local)
anything else          a litellm model string: openai/gpt-4o-mini, anthropic/..., ollama/...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forge.errors import MissingAPIKeyError, ModelNotFoundError
from forge.llm.base import ChatModel

if TYPE_CHECKING:
    from forge.config import Settings

SCRIPTED_PREFIX = "scripted/"
LOCAL_PREFIX = "local/"

UNKNOWN_MODEL_HINT = (
    "use a litellm model string like openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
    "ollama/llama3.1 (with --api-base), or local/smollm2"
)


def get_model(model: str, settings: Settings) -> ChatModel:
    """Resolve a model string. Raises ModelNotFoundError or MissingAPIKeyError (both ConfigErrors)."""
    model = model.strip()
    if model.startswith(SCRIPTED_PREFIX):
        from forge.llm.testing import ScriptedModel

        return ScriptedModel.from_file(model[len(SCRIPTED_PREFIX) :])

    from forge.llm.litellm_model import LiteLLMModel, key_env_var, missing_keys

    if model.startswith(LOCAL_PREFIX):
        from forge.llm.local import LOCAL_MODELS, check_local_model

        if model[len(LOCAL_PREFIX) :] not in LOCAL_MODELS:
            available = ", ".join(LOCAL_PREFIX + name for name in LOCAL_MODELS)
            raise ModelNotFoundError(f"unknown local model {model!r}; available: {available}")
        check_local_model(model[len(LOCAL_PREFIX) :])  # not installed -> ConfigError naming the fix
        return LiteLLMModel(model, settings)

    from forge.llm.env import import_litellm, load_dotenv_keys

    load_dotenv_keys()  # keys in ./.env must be in os.environ, where litellm looks
    litellm = import_litellm()
    try:
        litellm.get_llm_provider(model)
    except Exception:
        raise ModelNotFoundError(f"unknown model {model!r}; {UNKNOWN_MODEL_HINT}") from None
    # With --api-base (a self-hosted or OpenAI-compatible server) a key is optional: the server
    # answers 401 if it wants one, and that error names the variable too.
    if not settings.api_base:
        missing = missing_keys(model)
        if missing:
            raise MissingAPIKeyError(key_env_var(model, missing), model)
    return LiteLLMModel(model, settings)


def context_window(model: str, settings: Settings | None = None) -> int | None:
    """Input context length in tokens, or None when unknown (scripted, unmapped models)."""
    if model.startswith(SCRIPTED_PREFIX) or model == "scripted":  # ScriptedModel's default name
        return None
    if model.startswith(LOCAL_PREFIX):
        from forge.llm.local import LOCAL_MODELS, local_n_ctx

        name = model[len(LOCAL_PREFIX) :]
        return local_n_ctx(settings, name) if name in LOCAL_MODELS else None
    from forge.llm.env import import_litellm

    try:
        info = import_litellm().get_model_info(model)
    except Exception:
        return None
    value = info.get("max_input_tokens") or info.get("max_tokens")
    return int(value) if value else None
