"""What makes two queries the same answer: normalized messages, group and output limit (pure)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Whitespace differences do not change the question; case and punctuation might."""
    return _SPACE.sub(" ", text).strip()


def cache_key(messages: Sequence[Mapping[str, str]], group: str, max_tokens: int) -> str:
    canonical = json.dumps(
        {
            "group": group,
            "max_tokens": max_tokens,
            "messages": [[m["role"], normalize(m["content"])] for m in messages],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
