"""`LiteLLMModel`: hosted and self-hosted models (OpenAI, Anthropic, Ollama, vLLM, ...) through litellm.

How the decision is asked for depends on what the model can do:
  * native function calling: `tools=` with tool_choice "required"; the content keeps the thoughts;
  * otherwise JSON mode (`response_format={"type": "json_object"}`) where supported, else plain text.
A provider that rejects a structured mode with a 400 is asked again one mode lower, once per mode.

Retries are ours alone (litellm's and the OpenAI SDK's are turned off): exponential backoff with
jitter on 429, 5xx, timeouts and connection errors, honouring Retry-After. 401/403 are never
retried and name the environment variable to fix.

`complete` runs litellm's sync client on a worker thread: litellm caches async HTTP clients across
event loops, which breaks callers that run one loop per call (`asyncio.run`); its sync clients are
loop-free. `stream` uses `acompletion(stream=True)` on the caller's loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from forge.errors import LLMAuthError, LLMError, MissingAPIKeyError, ModelNotFoundError
from forge.models.base import DEFAULT_REPLY_TOKENS, LLMResponse, Model, ToolCall, Usage
from forge.models.env import import_litellm
from forge.models.options import LLMOptions

if TYPE_CHECKING:
    from forge.events.progress import ProgressCallback
    from forge.tools.base import Tool

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 120.0  # a longer Retry-After is clamped; the user sees the attempt count instead

MODE_SCHEMA, MODE_TOOLS, MODE_JSON, MODE_TEXT = "schema", "tools", "json", "text"

# Where validate_environment() is ambiguous (gemini accepts two names) or silent (on a 401 the key
# is present), the variable to tell the user about.
PROVIDER_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "cohere": "COHERE_API_KEY",
    "cohere_chat": "COHERE_API_KEY",
    "xai": "XAI_API_KEY",
    "azure": "AZURE_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "perplexity": "PERPLEXITYAI_API_KEY",
}
KEY_ALTERNATIVES = {"gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
# Servers people run themselves: they need no key, and litellm has defaults for their address.
KEYLESS_PROVIDERS = {"ollama", "ollama_chat", "lm_studio", "hosted_vllm", "llamafile", "local"}


def provider_of(model: str) -> str:
    litellm = import_litellm()
    try:
        return str(litellm.get_llm_provider(model)[1])
    except Exception:
        return model.split("/", 1)[0] if "/" in model else ""


def key_env_var(model: str, missing: Sequence[str] = ()) -> str:
    """The environment variable holding the model's key, for messages that name the fix."""
    provider = provider_of(model)
    if provider in PROVIDER_KEY_ENV:
        return PROVIDER_KEY_ENV[provider]
    keys = [k for k in missing if k.endswith("_KEY")] or list(missing)
    if keys:
        return " and ".join(keys)
    return f"{provider.upper() or 'PROVIDER'}_API_KEY"


def missing_keys(model: str, api_base: str | None = None, api_key: str | None = None) -> list[str]:
    """Environment variables the model still needs, per litellm.validate_environment; a variable
    set to an empty string (a common `KEY=` in .env or CI) counts as missing too. A key passed as
    an argument stands in for all of them."""
    if api_key:
        return []
    litellm = import_litellm()
    provider = provider_of(model)
    if provider in KEYLESS_PROVIDERS:
        return []
    try:
        missing = list(litellm.validate_environment(model=model, api_base=api_base)["missing_keys"])
    except Exception:
        missing = []
    key = PROVIDER_KEY_ENV.get(provider)
    alternatives = KEY_ALTERNATIVES.get(provider, (key,) if key else ())
    if (
        key
        and key not in missing
        and alternatives
        and not any(os.environ.get(k, "").strip() for k in alternatives)
    ):
        missing.append(key)
    return missing


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; clamped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def _retry_after_of(exc: BaseException) -> float | None:
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
    ):
        if headers:
            try:
                found = parse_retry_after(headers.get("retry-after"))
            except Exception:
                found = None
            if found is not None:
                return found
    return None


def _short(exc: BaseException, limit: int = 200) -> str:
    """First line of an exception message, without litellm's 'litellm.XError: ' prefixes."""
    text = str(getattr(exc, "message", "") or exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    for _ in range(3):
        head, sep, tail = text.partition(": ")
        if sep and head.replace(".", "").replace("_", "").isalnum() and " " not in head:
            text = tail
    return text[:limit] + ("..." if len(text) > limit else "")


class LiteLLMModel(Model):
    """Any provider litellm knows, configured by `LLMOptions`."""

    def __init__(
        self,
        model: str,
        options: LLMOptions | None = None,
        *,
        backoff_base: float = BACKOFF_BASE_S,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.name = model
        self.options = options or LLMOptions()
        self.api_base = self.options.api_base
        self.max_tokens = self.options.max_tokens
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._caps: dict[str, Any] | None = None
        self._rejected_modes: set[str] = set()
        self._window: int | None = None

    # Capabilities -----------------------------------------------------------------------------
    def _capabilities(self) -> dict[str, Any]:
        if self._caps is None:
            litellm = import_litellm()
            provider = provider_of(self.name)
            try:
                params = (
                    litellm.get_supported_openai_params(model=self.name, custom_llm_provider=provider) or []
                )
            except Exception:
                params = []
            try:
                native = bool(litellm.supports_function_calling(model=self.name))
            except Exception:
                native = False
            self._caps = {
                "provider": provider,
                "native_tools": native and "tools" in params,
                "tool_choice": "tool_choice" in params,
                "json_mode": "response_format" in params,
            }
        return self._caps

    @property
    def context_window(self) -> int | None:
        """The user's override, else litellm's model map (None when the model is not in it)."""
        if self.options.context_window:
            return self.options.context_window
        if self._window is None:
            try:
                info = import_litellm().get_model_info(self.name)
            except Exception:
                info = {}
            value = info.get("max_input_tokens") or info.get("max_tokens")
            self._window = int(value) if value else 0
        return self._window or None

    @property
    def max_reply_tokens(self) -> int:
        return self.max_tokens or DEFAULT_REPLY_TOKENS

    def uses_native_tools(self, tools: Sequence[Tool]) -> bool:
        return self.mode(tools=tools, decision_schema={}) == MODE_TOOLS

    def mode(self, *, tools: Sequence[Tool] = (), decision_schema: dict[str, Any] | None = None) -> str:
        """How the next decision will be requested (see the module docstring)."""
        if not tools and decision_schema is None:
            return MODE_TEXT
        caps = self._capabilities()
        for mode, able in (
            (MODE_TOOLS, caps["native_tools"] and bool(tools)),
            (MODE_JSON, caps["json_mode"]),
        ):
            if able and mode not in self._rejected_modes:
                return mode
        return MODE_TEXT

    def _request(
        self, mode: str, tools: Sequence[Tool], decision_schema: dict[str, Any] | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if mode == MODE_SCHEMA:
            if decision_schema is not None:
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "decision", "schema": decision_schema, "strict": True},
                }
            else:
                kwargs["response_format"] = {"type": "json_object"}
        elif mode == MODE_TOOLS:
            kwargs["tools"] = [t.function_spec() for t in tools]
            kwargs["tool_choice"] = "required" if self._capabilities()["tool_choice"] else "auto"
        elif mode == MODE_JSON:
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    # Calls --------------------------------------------------------------------------------------
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

    def complete_blocking(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> LLMResponse:
        """`complete` on the calling thread (retry sleeps included). With `progress`, the reply is
        streamed (`stream=True`), each piece and each retry reported, and rebuilt whole at the end."""
        while True:
            mode = self.mode(tools=tools, decision_schema=decision_schema)
            request = self._request(mode, tools, decision_schema)
            try:
                if progress is None:
                    response = self._call_with_retries(messages, request)
                else:
                    response = self._streamed(messages, request, progress)
            except _StructuredModeRejected as e:
                self._rejected_modes.add(mode)
                log.warning("%s rejected %s mode (%s); asking again without it", self.name, mode, e)
                continue
            return self._to_llm_response(response)

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_usage: Callable[[Usage], None] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str]:
        """Plain-text completion, yielded piece by piece as the provider streams it.

        Only opening the stream is retried (a half-streamed answer cannot be taken back).
        `on_usage` gets the call's usage when the provider reports it, at the end."""
        litellm = import_litellm()
        request: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}, **extra}
        if temperature is not None:
            request["temperature"] = temperature
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        kwargs = {**self._completion_kwargs(), **request, "messages": messages}
        retries = max(0, self.options.max_retries)
        response: Any = None
        for attempt in range(retries + 1):
            try:
                response = await litellm.acompletion(**kwargs)
                break
            except Exception as exc:
                await asyncio.sleep(self._retry_delay(exc, attempt, retries, structured=False))
        usage = Usage()
        try:
            async for chunk in response:
                choices = getattr(chunk, "choices", None) or []
                text = getattr(getattr(choices[0], "delta", None), "content", None) if choices else None
                if text:
                    yield text
                if getattr(chunk, "usage", None) is not None:
                    usage = self._usage(chunk)
        except Exception as exc:
            raise LLMError(f"{self.name} failed while streaming: {_short(exc)}") from exc
        if on_usage is not None:
            on_usage(usage)

    def _completion_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.name,
            "temperature": self.options.temperature,
            "timeout": self.options.timeout,
            "num_retries": 0,  # our retry loop is the only policy...
            "max_retries": 0,  # ...and the OpenAI SDK's own retries are off too
            "drop_params": True,  # e.g. a model that only accepts temperature=1
        }
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if self.options.api_key:
            kwargs["api_key"] = self.options.api_key
        if self.api_base:
            kwargs["api_base"] = self.api_base
            if not self.options.api_key and missing_keys(self.name, self.api_base):
                # Self-hosted OpenAI-compatible servers ignore the key, but the SDK insists on one.
                kwargs["api_key"] = "no-key-required"
        return kwargs

    def _call_with_retries(
        self, messages: list[dict[str, Any]], request: dict[str, Any], progress: ProgressCallback | None = None
    ) -> Any:
        litellm = import_litellm()
        kwargs = {**self._completion_kwargs(), **request, "messages": messages}
        retries = max(0, self.options.max_retries)
        structured = "response_format" in request or "tools" in request
        for attempt in range(retries + 1):
            try:
                return litellm.completion(**kwargs)
            except Exception as exc:
                delay = self._retry_delay(exc, attempt, retries, structured=structured)
                if progress is not None:
                    from forge.events.progress import CallRetried

                    progress(CallRetried(attempt=attempt + 1, error=_short(exc, 120), delay_s=delay))
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _streamed(self, messages: list[dict[str, Any]], request: dict[str, Any], progress: ProgressCallback) -> Any:
        """One decision streamed: each piece (content or native tool-call arguments) goes to `progress`;
        the chunks are rebuilt into one response by litellm. Only opening the stream is retried."""
        from forge.events.progress import TokensReceived

        litellm = import_litellm()
        stream_request = {**request, "stream": True, "stream_options": {"include_usage": True}}
        stream = self._call_with_retries(messages, stream_request, progress)
        chunks: list[Any] = []
        try:
            for chunk in stream:
                chunks.append(chunk)
                choices = getattr(chunk, "choices", None) or []
                delta = getattr(choices[0], "delta", None) if choices else None
                text = getattr(delta, "content", None) or ""
                for call in getattr(delta, "tool_calls", None) or []:
                    text += getattr(getattr(call, "function", None), "arguments", None) or ""
                if text:
                    progress(TokensReceived(text=text))
        except Exception as exc:
            raise LLMError(f"{self.name} failed while streaming: {_short(exc)}") from exc
        built = litellm.stream_chunk_builder(chunks, messages=messages) if chunks else None
        if built is None:
            raise LLMError(f"{self.name} sent an empty stream; try again or without streaming")
        return built

    def _retry_delay(self, exc: Exception, attempt: int, retries: int, *, structured: bool) -> float:
        """Seconds to wait before trying again; raises when the error is not worth a retry."""
        retryable = self._classify(exc, structured=structured)  # raises for what the user must fix
        if not retryable:
            raise LLMError(f"{self.name} failed: {_short(exc)}") from exc
        if attempt >= retries:
            raise LLMError(
                f"{self.name} failed after {_attempts(attempt + 1)}: {_short(exc)}; check the "
                "provider's status and your network, or raise AUTOGPT_LLM_MAX_RETRIES"
            ) from exc
        delay = _retry_after_of(exc)
        if delay is None:
            backoff = min(BACKOFF_MAX_S, self.backoff_base * 2**attempt)
            delay = backoff / 2 + random.uniform(0, backoff / 2)  # jitter spreads clients apart
        what = _short(exc, 120)
        log.warning("%s: %s; retrying in %.1f s (attempt %d of %d)", self.name, what, delay, attempt + 2, retries + 1)
        return delay

    def _classify(self, exc: Exception, *, structured: bool) -> bool:
        """True if worth retrying; raises at once for errors the user must fix."""
        litellm = import_litellm()
        status = getattr(exc, "status_code", None)
        auth = isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError)
        if auth or status in (401, 403):
            env_var = key_env_var(self.name)
            what = "rejected the API key" if status != 403 else "refused access with this API key"
            raise LLMAuthError(
                f"{self.name} {what} ({status or 401}); set a valid {env_var} in the environment or .env"
            ) from None
        if any(marker in str(exc) for marker in _NO_KEY_MARKERS):  # the SDK found no key (e.g. KEY="")
            raise MissingAPIKeyError(key_env_var(self.name), self.name) from None
        if isinstance(exc, litellm.NotFoundError) or status == 404:
            hint = (
                f", and that --api-base {self.api_base} is right (often ending in /v1)"
                if self.api_base
                else ""
            )
            raise ModelNotFoundError(
                f"model {self.name!r} was not found by the provider (404); check the name{hint}"
            )
        if isinstance(exc, litellm.ContextWindowExceededError):
            raise LLMError(
                f"the prompt is too long for {self.name}'s context window; lower AUTOGPT_HISTORY_STEPS "
                "or AUTOGPT_MAX_OBSERVATION_CHARS, or use a model with a larger context"
            ) from exc
        if (
            structured
            and isinstance(exc, litellm.BadRequestError | litellm.UnprocessableEntityError)
            and not isinstance(exc, litellm.ContentPolicyViolationError)
        ):
            raise _StructuredModeRejected(_short(exc, 120)) from exc
        if isinstance(
            exc,
            litellm.RateLimitError
            | litellm.Timeout
            | litellm.APIConnectionError
            | litellm.InternalServerError
            | litellm.ServiceUnavailableError
            | litellm.BadGatewayError,
        ):
            return True
        return isinstance(status, int) and (status == 429 or status == 408 or status >= 500)

    def _to_llm_response(self, response: Any) -> LLMResponse:
        message = response.choices[0].message
        calls = [
            ToolCall(name=tc.function.name, arguments=_parse_arguments(tc.function.arguments))
            for tc in (getattr(message, "tool_calls", None) or [])
            if getattr(tc, "function", None) is not None
        ]
        return LLMResponse(
            content=message.content,
            tool_calls=calls,
            usage=self._usage(response),
            model=str(getattr(response, "model", None) or self.name),
        )

    def _usage(self, response: Any) -> Usage:
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        try:
            cost = float(import_litellm().completion_cost(completion_response=response) or 0.0)
        except Exception:  # unknown price (custom or self-hosted model): report zero, never fail
            cost = 0.0
        return Usage(prompt, completion, cost)

    # Tokens -------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """tiktoken for OpenAI models (offline, from litellm's wheel); litellm's counter for others
        (its bundled tokenizers), falling back to cl100k, a fair estimate for most BPE vocabularies."""
        if not text:
            return 0
        from forge.models.tokens import tiktoken_encoding

        if _is_openai(self.name):
            return len(tiktoken_encoding(self.name).encode(text, disallowed_special=()))
        try:
            return int(import_litellm().token_counter(model=self.name, text=text))
        except Exception:
            return len(tiktoken_encoding("gpt-4").encode(text, disallowed_special=()))

    def close(self) -> None:
        """Nothing per instance: the HTTP clients are litellm's."""


def _is_openai(model: str) -> bool:
    name = model.removeprefix("openai/")
    return model.startswith("openai/") or name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding"))


# What the OpenAI and Anthropic SDKs say when they have no key; litellm reports it as a 500.
_NO_KEY_MARKERS = ("Missing credentials", "api_key client option must be set", "Missing Anthropic API Key")


class _StructuredModeRejected(Exception):
    """A 400 while using tools= or response_format: the caller retries one mode lower."""


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _parse_arguments(raw: Any) -> dict[str, Any] | str:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}", strict=False)
    except (TypeError, json.JSONDecodeError):
        return str(raw)
    return value if isinstance(value, dict) else str(raw)


UNKNOWN_MODEL_HINT = (
    "use a litellm model string like openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
    "ollama/llama3.1 (with --api-base), or local/smollm2"
)


def check_litellm_model(model: str, options: LLMOptions) -> None:
    """Fail before the first call, in one line naming the fix, on an unknown model or a missing key."""
    litellm = import_litellm()
    try:
        litellm.get_llm_provider(model)
    except Exception:
        raise ModelNotFoundError(f"unknown model {model!r}; {UNKNOWN_MODEL_HINT}") from None
    # With an api_base (a self-hosted or OpenAI-compatible server) a key is optional: the server
    # answers 401 if it wants one, and that error names the variable too.
    if not options.api_base:
        missing = missing_keys(model, api_key=options.api_key)
        if missing:
            raise MissingAPIKeyError(key_env_var(model, missing), model)
