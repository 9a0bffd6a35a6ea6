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
# Hard questions as users ask them: worked problems, proofs, diagnosis, planning under constraints
# (the kind a keyword classifier sends to the cheap model), and code asked for in plain words.
COMPLEX = [
    "A loan of {n},000 at 6.5% over 20 years: what is the monthly payment, and how much interest do I save "
    "by paying 150 more each month?",
    "Prove that n^3 - n is divisible by 6 for every integer n. Does n^5 - n always divide by 30?",
    "Weekly sign-ups for {x} fell {n}% the week we raised prices 5% and a competitor launched. How would you "
    "tell how much of the drop each caused?",
    "Two trains {n}0 km apart leave at 9:00 toward each other at 70 and 90 km/h. When and where do "
    "they meet?",
    "A bag holds {n} red and 7 blue balls and I draw three without replacement. What is the chance exactly "
    "two are red?",
    "We have 3 engineers and 8 weeks to move {x} off our monolith with no downtime. Plan it, and say what "
    "you would cut first if we slip.",
]
CODE = [
    "Write a python function that {x}.",
    "Fix this bug: def {x}(items): return items.sort()",
    "Implement a typescript function that {x}, with unit tests.",
    "Refactor this SQL: SELECT * FROM orders WHERE {x}; it is slow.",
    "cron line that runs my backup of {x} every weekday at 6:30",
    "regex that matches order numbers like AB-{n}123 but not ab-{n}123",
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
    """One query of the demo's workload, with the kind it was written as."""

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
            text = rng.choice(COMPLEX).format(x=topic, n=rng.randint(2, 9))
        elif kind == "code":
            text = rng.choice(CODE).format(x=topic.replace(" ", "_"), n=rng.randint(2, 9))
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
