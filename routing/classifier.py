"""What kind of query this is: pure, cheap, and explainable (no model call on the hot path).

The type decides the model group; the complexity score (0..1) says how much reasoning the query
asks for. Both come from the text alone plus the prompt's token count, measured by the caller with
LiteLLM's token counter so it matches what the providers will bill.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.vocabulary import QueryType

MANY_CODE_SIGNS = 2  # two code-looking lines make code even without the word "code"
_CODE_FENCE = re.compile(r"```")
_CODE_SIGNS = re.compile(
    r"(\bdef \w+\(|\bclass \w+[:(]|\bfunction\s*\w*\(|=>|\bimport \w+|#include|\bpublic static\b"
    r"|\bSELECT\b.+\bFROM\b|Traceback \(most recent call last\)|\bconsole\.log\(|;\s*$)",
    re.MULTILINE,
)
_CODE_WORDS = re.compile(
    r"\b(code|function|regex|refactor|compile|bug|stack trace|unit test|python|javascript|typescript"
    r"|rust|golang|java|sql|api endpoint|script|implement)\b",
    re.IGNORECASE,
)
_REASONING_WORDS = re.compile(
    r"\b(why|prove|derive|step by step|analy[sz]e|compare|trade-?offs?|evaluate|explain in detail"
    r"|reason|plan|strategy|design|implications|pros and cons|critique|optimi[sz]e|justify)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Classification:
    query_type: QueryType
    complexity: float
    prompt_tokens: int


def classify(
    texts: Sequence[str],
    prompt_tokens: int,
    long_context_tokens: int,
    complex_threshold: float,
    hinted_type: QueryType | None = None,
) -> Classification:
    """Classify the conversation whose message texts are given (the last one is the question)."""
    complexity = complexity_score(texts[-1] if texts else "")
    if prompt_tokens >= long_context_tokens:
        # Size wins over a hint: a small model cannot read the prompt at all.
        return Classification("long_context", complexity, prompt_tokens)
    if hinted_type is not None:
        return Classification(hinted_type, complexity, prompt_tokens)
    if _is_code("\n".join(texts[-2:])):
        return Classification("code", complexity, prompt_tokens)
    if complexity >= complex_threshold:
        return Classification("complex", complexity, prompt_tokens)
    return Classification("simple", complexity, prompt_tokens)


def complexity_score(question: str) -> float:
    """0 for a one-line factual question, towards 1 for long multi-part reasoning requests."""
    words = len(question.split())
    reasoning = len(_REASONING_WORDS.findall(question))
    questions = question.count("?")
    steps = len(re.findall(r"^\s*(\d+[.)]|[-*])\s", question, re.MULTILINE))
    score = (
        min(words / 120, 1.0) * 0.35
        + min(reasoning / 3, 1.0) * 0.45
        + min(max(questions - 1, 0) / 3, 1.0) * 0.1
        + min(steps / 4, 1.0) * 0.1
    )
    return round(min(score, 1.0), 3)


def _is_code(question: str) -> bool:
    signs = len(_CODE_SIGNS.findall(question))
    talks_code = bool(_CODE_WORDS.search(question))
    asks_work = bool(re.search(r"\b(write|fix|debug|review|implement|refactor)\b", question, re.IGNORECASE))
    return (
        bool(_CODE_FENCE.search(question))
        or signs >= MANY_CODE_SIGNS
        or (signs >= 1 and (talks_code or asks_work))
        or (talks_code and asks_work)
    )
