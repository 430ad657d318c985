"""Offline token counting and context sizes.

- OpenAI models: tiktoken, with the encodings litellm's wheel ships (forge.llm.env sets
  TIKTOKEN_CACHE_DIR), so counting never downloads anything.
- The embedded model: its own llama.cpp tokenizer.
- Anything else: litellm's `token_counter` (its bundled tokenizers, else tiktoken's cl100k).

Counts are cached per text: the same history messages are counted again every cycle.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forge.config import Settings

# Chat formats wrap each message in a few tokens (role, separators) and prime the reply.
MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3
DEFAULT_CONTEXT = 8192  # when neither the user nor litellm's map knows the model's window
MAX_REPLY_RESERVE = 4096


def _is_openai(model: str) -> bool:
    name = model.removeprefix("openai/")
    return model.startswith("openai/") or name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding"))


@lru_cache(maxsize=32)
def _tiktoken_encoding(model: str) -> Any:
    from forge.llm.env import prepare_offline_env

    prepare_offline_env()
    import tiktoken

    name = model.removeprefix("openai/")
    try:
        return tiktoken.encoding_for_model(name)
    except KeyError:  # unknown to tiktoken's table: newer OpenAI models use o200k
        return tiktoken.get_encoding("o200k_base")


@lru_cache(maxsize=65536)
def count_text(model: str, text: str) -> int:
    """Tokens of `text` for `model` (a model string as given to `autogpt run --model`)."""
    if not text:
        return 0
    if model.startswith("scripted/") or model == "scripted":
        return max(1, len(text) // 4)
    if model.startswith("local/"):
        from forge.llm.local import count_local_tokens

        return count_local_tokens(text, model.split("/", 1)[1])
    if _is_openai(model):
        return len(_tiktoken_encoding(model).encode(text, disallowed_special=()))
    from forge.llm.env import import_litellm

    try:
        return int(import_litellm().token_counter(model=model, text=text))
    except Exception:  # an unmapped model: cl100k is a fair estimate for most BPE vocabularies
        return len(_tiktoken_encoding("gpt-4").encode(text, disallowed_special=()))


def message_content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # multimodal parts: count the text ones
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def count_messages(model: str, messages: list[dict[str, Any]]) -> int:
    return REPLY_PRIMING + sum(MESSAGE_OVERHEAD + count_text(model, message_content(m)) for m in messages)


def truncate_to_tokens(model: str, text: str, max_tokens: int, marker: str = "") -> str:
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


def context_budget(model: str, settings: Settings) -> tuple[int, int]:
    """(context window, tokens reserved for the reply) for `model` under `settings`."""
    from forge.llm.registry import context_window

    window = settings.max_context_tokens or context_window(model, settings) or DEFAULT_CONTEXT
    if model.startswith("local/"):
        from forge.llm.litellm_model import LOCAL_MAX_TOKENS

        reserve = LOCAL_MAX_TOKENS
    else:
        reserve = MAX_REPLY_RESERVE
    # Small windows (a user's --max-context-tokens) still leave most of the room to the prompt.
    return window, min(reserve, window // 4)
