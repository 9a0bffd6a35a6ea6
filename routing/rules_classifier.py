"""The keyword rules that classified queries before the trained model: kept as a configured
fallback (`mobius.classifier.method: rules`). They miss most hard questions that lack reasoning
words (README "How a query is routed" has the held-out figures), and read only bounded text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


RULES_WINDOW = 4000  # characters of the last turns the rules read (regexes over megabytes stall)


def rules_type(texts: Sequence[str], complex_threshold: float) -> tuple[QueryType, float]:
    """(type, complexity) by the keyword rules, from the last one or two message texts."""
    question = (texts[-1] if texts else "")[:RULES_WINDOW]
    complexity = complexity_score(question)
    if _is_code("\n".join(t[:RULES_WINDOW] for t in texts[-2:])):
        return "code", complexity
    if complexity >= complex_threshold:
        return "complex", complexity
    return "simple", complexity


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
