"""The demo's built-in workload: about 300 varied queries, deterministic for a given seed."""

from __future__ import annotations

import random
from dataclasses import dataclass

from schemas.vocabulary import Tier

SIMPLE = [
    "What is the capital of {x}?",
    "How many days are in {x}?",
    "Translate 'thank you' into {x}.",
    "Who wrote {x}?",
    "What is the boiling point of water in {x}?",
    "Give me a synonym for {x}.",
]
COMPLEX = [
    "Why did {x} happen? Analyze the causes step by step and compare the main explanations.",
    "Design a strategy for {x}, evaluate the trade-offs and justify each decision.",
    "Compare {x} with its alternatives: pros and cons, implications, and a reasoned recommendation.",
    "Derive the key result behind {x} step by step and explain in detail why it holds.",
]
CODE = [
    "Write a python function that {x}.",
    "Fix this bug: def {x}(items): return items.sort()",
    "Implement a typescript function that {x}, with unit tests.",
    "Refactor this SQL: SELECT * FROM orders WHERE {x}; it is slow.",
]
TOPICS = [
    "France",
    "Japanese",
    "a leap year",
    "Hamlet",
    "Kelvin",
    "happy",
    "the 2008 crisis",
    "remote work",
    "microservices",
    "the Fourier transform",
    "parses ISO dates",
    "merges sorted lists",
    "dedupe",
    "status = 'open'",
    "retries with backoff",
    "Brazil",
    "Celsius",
    "Portuguese",
]
DOCUMENT = (
    "Section {n}. The supplier shall deliver the goods described in Schedule {n} within thirty days of the "
    "purchase order, in accordance with the quality standards set out herein, and shall indemnify the buyer "
    "against any loss arising from late or defective delivery. "
)
# Who asks: the free tier is most of the traffic, as in most consumer products.
TIERS: list[tuple[Tier, float]] = [("free", 0.55), ("pro", 0.35), ("enterprise", 0.10)]
MIX = [("simple", 0.45), ("complex", 0.25), ("code", 0.23), ("long_document", 0.07)]
MALFORMED = [b"", b"not avro", b"\x00\x00\x00\x00\x01garbage", b"\xc3\x01" + b"\x00" * 8 + b"\x02"]


@dataclass(frozen=True)
class DemoQuery:
    kind: str  # simple, complex, code, long_document
    tier: Tier
    user_id: str
    org_id: str | None
    text: str


def build_workload(size: int = 300, seed: int = 7) -> list[DemoQuery]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo mix, not security
    queries = []
    for i in range(size):
        kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        tier = rng.choices([t for t, _ in TIERS], weights=[w for _, w in TIERS])[0]
        topic = rng.choice(TOPICS)
        if kind == "simple":
            text = rng.choice(SIMPLE).format(x=topic)
        elif kind == "complex":
            text = rng.choice(COMPLEX).format(x=topic)
        elif kind == "code":
            text = rng.choice(CODE).format(x=topic.replace(" ", "_"))
        else:
            sections = rng.randint(260, 420)  # ~15k-25k tokens
            body = "".join(DOCUMENT.format(n=n) for n in range(sections))
            text = f"Summarise the obligations in this contract:\n{body}"
            tier = "pro" if tier == "free" else tier
        org = f"org-{rng.randint(1, 6)}" if tier != "free" else None
        queries.append(DemoQuery(kind, tier, f"user-{rng.randint(1, 40)}", org, text))
        if i == size // 3:
            # The same question asked again later: the reply store and (later) the cache see repeats.
            queries.append(DemoQuery("simple", "free", "user-1", None, SIMPLE[0].format(x="France")))
    return queries
