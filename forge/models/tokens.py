"""Token counting and context budgets, from the model object (its `count_tokens` and
`context_window`), so any Model subclass gets correct budgets without a name prefix.

Counts are cached per model and text: the same history messages are counted again every cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forge.models.base import Model

# Chat formats wrap each message in a few tokens (role, separators) and prime the reply.
MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3
DEFAULT_CONTEXT = 8192  # when neither the user nor the model knows its window
CACHE_SIZE = 65536

_CACHE_ATTR = "_forge_token_counter"


def _counter(model: Model) -> Callable[[str], int]:
    """`model.count_tokens`, cached on the model object itself (so the cache dies with it)."""
    counter = getattr(model, _CACHE_ATTR, None)
    if counter is None:
        counter = lru_cache(maxsize=CACHE_SIZE)(model.count_tokens)
        try:
            setattr(model, _CACHE_ATTR, counter)
        except AttributeError:  # a model with __slots__: count without the cache
            return model.count_tokens
    return counter  # type: ignore[no-any-return]


def count_text(model: Model, text: str) -> int:
    """Tokens of `text` for `model`."""
    return _counter(model)(text) if text else 0


def message_content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # multimodal parts: count the text ones
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def count_messages(model: Model, messages: list[dict[str, Any]]) -> int:
    return REPLY_PRIMING + sum(MESSAGE_OVERHEAD + count_text(model, message_content(m)) for m in messages)


def truncate_to_tokens(model: Model, text: str, max_tokens: int, marker: str = "") -> str:
    """The longest prefix of `text` that, with `marker` appended, fits `max_tokens`."""
    if count_text(model, text) <= max_tokens:
        return text
    budget = max_tokens - count_text(model, marker)
    if budget <= 0:
        return ""
    # Binary search on characters: works for every tokenizer without decoding.
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_text(model, text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + marker


def context_budget(model: Model, settings: Any = None) -> tuple[int, int]:
    """(context window, tokens reserved for the reply) for `model`; a user's max_context_tokens wins."""
    override = getattr(settings, "max_context_tokens", None) if settings is not None else None
    window = override or model.context_window or DEFAULT_CONTEXT
    # Small windows (a user's --max-context-tokens) still leave most of the room to the prompt.
    return window, min(model.max_reply_tokens, window // 4)


@lru_cache(maxsize=32)
def tiktoken_encoding(model: str) -> Any:
    """tiktoken's encoding for an OpenAI model name, from the files litellm's wheel ships (no download)."""
    import tiktoken

    from forge.models.env import offline_scope

    name = model.removeprefix("openai/")
    with offline_scope():  # tiktoken reads TIKTOKEN_CACHE_DIR when it loads an encoding
        try:
            return tiktoken.encoding_for_model(name)
        except KeyError:  # unknown to tiktoken's table: newer OpenAI models use o200k
            return tiktoken.get_encoding("o200k_base")
