"""What the query classifier reads of a conversation: bounded, so its cost does not grow with the
prompt. The last user turn's head and tail, the turn before it, and a few structural measures of
the whole prompt (its size among them, which decides long documents without reading them)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

HEAD_CHARS, TAIL_CHARS = 1200, 300  # of the last user turn
CONTEXT_CHARS = 400  # of the turn before it
LONG_DOCUMENT_CHARS = 12_000  # ~3,000 tokens: a document to read, not a question
_FENCE = re.compile(r"```|~~~")
_CODE_CHARS = frozenset("{}[]();=<>_$#|\\`/*&%")
_MATH_CHARS = frozenset("+-*/^=√∑∫πθ≤≥÷%\u00d7")
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s", re.MULTILINE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class QueryView:
    """The bounded view of a conversation the classifier scores."""

    question: str  # the last user turn, head and tail
    context: str  # the turn before it, head
    numbers: tuple[float, ...]  # dense structural features, see `structure`


def view(messages: Sequence[tuple[str, str]]) -> QueryView:
    """`messages` as (role, content); the last user turn is the question."""
    last = max((i for i, (role, _) in enumerate(messages) if role == "user"), default=len(messages) - 1)
    question = messages[last][1] if messages else ""
    before = messages[last - 1][1] if last > 0 else ""
    total = sum(len(content) for _, content in messages)
    return QueryView(_head_tail(question), before[:CONTEXT_CHARS], structure(question, total, len(messages)))


def _head_tail(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return f"{text[:HEAD_CHARS]}\n…\n{text[-TAIL_CHARS:]}"


def structure(question: str, total_chars: int, turns: int) -> tuple[float, ...]:
    """Size, shape and symbols, each squashed to about 0..1 (read from the bounded head only)."""
    head = question[: HEAD_CHARS + TAIL_CHARS]
    n = max(len(head), 1)
    code_share = sum(ch in _CODE_CHARS for ch in head) / n
    math_share = sum(ch in _MATH_CHARS for ch in head) / n
    digits = len(_NUMBER.findall(head))
    lines = head.count("\n")
    return (
        math.log1p(total_chars) / 12,
        math.log1p(len(question)) / 12,
        min(turns, 10) / 10,
        float(bool(_FENCE.search(head))),
        min(code_share * 10, 1.0),
        min(math_share * 10, 1.0),
        min(digits / 10, 1.0),
        min(lines / 20, 1.0),
        min(len(_LIST_ITEM.findall(head)) / 5, 1.0),
        min(head.count("?") / 3, 1.0),
        sum(not ch.isascii() for ch in head) / n,
        float(total_chars > LONG_DOCUMENT_CHARS),
    )


STRUCTURE_FEATURES = 12
