"""The keyword rules, kept as the configured fallback classifier."""

import pytest

from routing.classifier import RulesClassifier
from routing.rules_classifier import complexity_score
from schemas.vocabulary import QueryType

RULES = RulesClassifier(long_context_tokens=12000, complex_threshold=0.35)


def _type(text: str, tokens: int = 30, hint: QueryType | None = None) -> str:
    return RULES.classify([("user", text)], tokens, hint).query_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the capital of France?", "simple"),
        ("Translate 'good morning' to Spanish", "simple"),
        ("What is Java island known for?", "simple"),
        ("Write a python function that parses ISO dates", "code"),
        ("Fix this: def f(x): return x +", "code"),
        ("```\nSELECT * FROM users\n```\nwhy is this slow?", "code"),
        ("Why do interest rates rise? Analyze the trade-offs step by step and compare policies.", "complex"),
        ("Design a migration plan and justify each step, with pros and cons.", "complex"),
    ],
)
def test_query_types_from_text(text: str, expected: str) -> None:
    assert _type(text) == expected


def test_size_makes_long_context_whatever_the_text_or_hint() -> None:
    assert _type("What is the capital of France?", tokens=12000) == "long_context"
    assert _type("x", tokens=50_000, hint="code") == "long_context"


def test_a_hint_decides_below_the_size_limit() -> None:
    assert _type("What is the capital of France?", hint="complex") == "complex"
    assert RULES.classify([("user", "hi")], 5, "complex").cause == "hint"


def test_complexity_grows_with_reasoning_and_length() -> None:
    short = complexity_score("What time is it?")
    reasoning = complexity_score(
        "Explain in detail why, derive the result step by step and compare approaches."
    )
    assert 0 <= short < 0.1 < reasoning <= 1


def test_the_rules_read_a_bounded_window_of_a_huge_prompt() -> None:
    classification = RULES.classify([("user", "why " * 2_000_000)], 100)
    assert classification.cause == "rules"
