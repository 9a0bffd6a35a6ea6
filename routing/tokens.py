"""Counting a prompt's tokens for classification, tier limits and window checks.

One tokenizer for every provider (gpt-4o's o200k; providers bill with their own counts). tiktoken
directly, with OpenAI's chat framing, is a tenth of the CPU of `litellm.token_counter` for the
same count (its wrappers dominate on short prompts); LiteLLM's bundled encoding files keep it
offline.
"""

from __future__ import annotations

from functools import cache

import tiktoken

ENCODING = "o200k_base"
TOKENS_PER_MESSAGE = 3  # role and separators in OpenAI's chat format
REPLY_PRIMING = 3  # the assistant turn the provider starts
# Past this many characters the exact count changes no decision (the prompt is long-context either
# way) and tokenizing megabytes would stall every other query on the worker's event loop.
EXACT_COUNT_MAX_CHARS = 200_000


@cache
def _encoding() -> tiktoken.Encoding:
    # Importing it points TIKTOKEN_CACHE_DIR at LiteLLM's bundled files: tiktoken would download.
    import litellm.litellm_core_utils.default_encoding  # noqa: F401, PLC0415

    return tiktoken.get_encoding(ENCODING)


def count_tokens(messages: list[dict[str, str]]) -> int:
    chars = sum(len(m["content"]) for m in messages)
    if chars > EXACT_COUNT_MAX_CHARS:
        return chars // 4 + 4 * len(messages)
    encoding = _encoding()
    framing = TOKENS_PER_MESSAGE * len(messages) + REPLY_PRIMING
    return framing + sum(len(encoding.encode_ordinary(m["content"])) for m in messages)
