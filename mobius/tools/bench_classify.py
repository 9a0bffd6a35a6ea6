"""The cost of one routing decision: the configured classifier on the corpus's held-out queries
(every prompt up to 8,000 characters) and on multi-megabyte documents, in this process."""

from __future__ import annotations

import time
from pathlib import Path

from mobius.tools.stats import percentile
from routing.classifier import build_classifier
from routing.corpus import load_corpus
from routing.router_config import load_router_config

LARGE_DOCUMENT_CHARS = 5_000_000
PROMPT_CHARS = 8000  # the size the per-decision budget (1 ms p99) is stated for


def bench_classify(router_config: Path, rounds: int = 5) -> dict[str, float]:
    config = load_router_config(router_config)
    classifier = build_classifier(config.mobius.classifier, router_config.parent)
    held_out = load_corpus("held_out")
    queries = [e.messages for e in held_out if sum(len(c) for _, c in e.messages) <= PROMPT_CHARS]
    timings: list[float] = []
    for _ in range(rounds):
        for messages in queries:
            started = time.perf_counter()
            classifier.classify(messages, 100)
            timings.append((time.perf_counter() - started) * 1e6)
    document = [
        (
            "user",
            "Summarise the attached filings.\n" + "Quarterly revenue rose. " * (LARGE_DOCUMENT_CHARS // 24),
        )
    ]
    large: list[float] = []
    for _ in range(rounds * 4):
        started = time.perf_counter()
        classifier.classify(document, LARGE_DOCUMENT_CHARS // 4)
        large.append((time.perf_counter() - started) * 1e6)
    return {
        "classify_p50_us": round(percentile(timings, 50), 1),
        "classify_p99_us": round(percentile(timings, 99), 1),
        "classify_samples": len(timings),
        "classify_5mb_document_p99_us": round(percentile(large, 99), 1),
    }
