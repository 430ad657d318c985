"""Ollama (`ollama/NAME`, `ollama_chat/NAME`): a local server's models, decisions as structured output.

    model = OllamaModel("ollama_chat/qwen2.5:3b", LLMOptions(ollama_host="127.0.0.1:11434"))
    list_models("http://127.0.0.1:11434")     # what `ollama list` shows; None when no server answers

Small models served by Ollama often break JSON or tool calls when merely asked for them. Ollama can
constrain decoding to a JSON schema (its `format` field): every decision is requested that way,
through litellm, which maps `response_format={"type": "json_schema", ...}` to `format` for both
prefixes (`ollama/` uses /api/generate, `ollama_chat/` /api/chat). Ollama also truncates prompts to
its own default context (2k-4k tokens) unless told otherwise, so each request carries `num_ctx`.

A missing server is one line naming the fix (exit code 10), found by a quick probe before the
first call and never retried: connection refused will not fix itself within a backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel

from forge.errors import LLMError, ModelNotFoundError, ModelServerUnavailableError
from forge.models.litellm_model import MODE_JSON, MODE_SCHEMA, MODE_TEXT, LiteLLMModel
from forge.models.options import LLMOptions

if TYPE_CHECKING:
    from forge.tools.base import Tool

DEFAULT_URL = "http://127.0.0.1:11434"
PROBE_TIMEOUT_S = 2.0
LIST_TIMEOUT_S = 0.5  # `autogpt models list` must not wait on a server that is not there
PREFIXES = ("ollama/", "ollama_chat/")


def server_url(api_base: str | None = None, host: str | None = None) -> str:
    """The server's base URL from --api-base, else an OLLAMA_HOST-style value (`host[:port]`, scheme
    optional, as the ollama CLI takes it), else the default."""
    value = (api_base or host or DEFAULT_URL).strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    scheme, _, rest = value.partition("://")
    hostport, slash, path = rest.partition("/")
    if hostport.startswith("0.0.0.0"):  # a bind-all listen address: the client talks to loopback
        hostport = "127.0.0.1" + hostport[len("0.0.0.0") :]
    if ":" not in hostport.rsplit("]", 1)[-1]:
        hostport += ":11434"
    path = path.removesuffix("v1").rstrip("/")  # an OpenAI-compatible address of the same server
    return f"{scheme}://{hostport}{slash if path else ''}{path}"


class OllamaEntry(BaseModel):
    """One model of `GET /api/tags`."""

    name: str
    size: int = 0
    modified_at: str = ""
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None


def list_models(url: str, timeout: float = LIST_TIMEOUT_S) -> list[OllamaEntry] | None:
    """The server's models, or None when nothing answers (or it is not Ollama) within `timeout`."""
    try:
        response = httpx.get(f"{url}/api/tags", timeout=timeout)
        response.raise_for_status()
        items = response.json().get("models") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        details = item.get("details") or {}
        out.append(
            OllamaEntry(
                name=str(item["name"]),
                size=int(item.get("size") or 0),
                modified_at=str(item.get("modified_at") or ""),
                family=details.get("family"),
                parameter_size=details.get("parameter_size"),
                quantization_level=details.get("quantization_level"),
            )
        )
    return out


def _same_model(wanted: str, have: str) -> bool:
    return wanted == have or f"{wanted}:latest" == have


def unavailable(url: str) -> ModelServerUnavailableError:
    return ModelServerUnavailableError(f"no Ollama server at {url}; start `ollama serve` or check --api-base")


class OllamaModel(LiteLLMModel):
    """A model of an Ollama server, through litellm, with schema-constrained decisions."""

    def __init__(self, model: str, options: LLMOptions | None = None, *, probe: bool = True, **kwargs: Any):
        super().__init__(model, options, **kwargs)
        self.url = server_url(self.options.api_base, self.options.ollama_host)
        self.api_base = self.url
        self.model_id = model.split("/", 1)[1] if "/" in model else model
        if not self.model_id:
            raise ModelNotFoundError(f"{model!r} names no model; e.g. ollama/qwen2.5:3b (`ollama list` shows yours)")
        self._trained_ctx: int | None = None
        if probe:
            self.check_server()

    def check_server(self) -> None:
        """Before the first call: the server answers and has the model."""
        models = list_models(self.url, timeout=PROBE_TIMEOUT_S)
        if models is None:
            raise unavailable(self.url)
        if not any(_same_model(self.model_id, m.name) for m in models):
            raise ModelNotFoundError(
                f"the Ollama server at {self.url} has no model {self.model_id!r}; run `ollama pull {self.model_id}`"
            )

    def mode(self, *, tools: Sequence[Tool] = (), decision_schema: dict[str, Any] | None = None) -> str:
        """The decision's JSON schema as Ollama's `format`; JSON mode if the server rejects it."""
        if not tools and decision_schema is None:
            return MODE_TEXT
        for mode in (MODE_SCHEMA if decision_schema is not None else MODE_JSON, MODE_JSON):
            if mode not in self._rejected_modes:
                return mode
        return MODE_TEXT

    def uses_native_tools(self, tools: Sequence[Tool]) -> bool:
        return False

    def _model_context(self) -> int:
        """The model's trained context length, from `POST /api/show` (0 when it does not say)."""
        if self._trained_ctx is None:
            self._trained_ctx = 0
            try:
                response = httpx.post(f"{self.url}/api/show", json={"model": self.model_id}, timeout=PROBE_TIMEOUT_S)
                info = response.json().get("model_info") or {}
                found = [v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)]
                self._trained_ctx = found[0] if found else 0
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
        return self._trained_ctx

    @property
    def context_window(self) -> int | None:
        """What each request asks Ollama for (`num_ctx`): the override, else AUTOGPT_LOCAL_N_CTX capped at
        the model's own length."""
        if self.options.context_window:
            return self.options.context_window
        trained = self._model_context()
        return min(self.options.local_n_ctx, trained) if trained else self.options.local_n_ctx

    def _completion_kwargs(self) -> dict[str, Any]:
        kwargs = super()._completion_kwargs()
        kwargs["api_base"] = self.url
        kwargs["num_ctx"] = self.context_window  # litellm passes it on in Ollama's `options`
        return kwargs

    def _classify(self, exc: Exception, *, structured: bool) -> bool:
        if isinstance(exc, LLMError):
            raise exc
        if "Connection refused" in str(exc) or "ConnectError" in type(exc).__name__ or _refused(exc):
            raise unavailable(self.url) from None
        return super()._classify(exc, structured=structured)


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | httpx.ConnectError):
            return True
        current = current.__cause__ or current.__context__
    return False
