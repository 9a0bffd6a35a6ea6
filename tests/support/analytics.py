"""Completion records for analytics tests, and putting them on Kafka."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from aiokafka import AIOKafkaProducer

from mobius.settings import MobiusSettings
from schemas.events import CompletionRecord, encode_completion, now_utc
from streams.kafka_options import client_options


def record(i: int, cost: int) -> CompletionRecord:
    created = now_utc() - timedelta(seconds=5)
    return CompletionRecord(
        request_id=f"req-{i}",
        user_id=f"user-{i % 5}",
        org_id="acme" if i % 2 else None,
        tier="pro",
        query_type="simple",
        complexity=0.1,
        model_group="fast",
        model="openai/gpt-4o-mini",
        provider="openai",
        status="ok" if i % 10 else "error",
        prompt_tokens=10 + i,
        completion_tokens=20,
        total_tokens=30 + i,
        cost_nano_usd=cost,
        total_latency_ms=100 + i,
        provider_latency_ms=90,
        queue_wait_ms=3,
        attempted_models=("openai/gpt-4o-mini",),
        fallback_count=i % 3 == 0,
        worker_id="w",
        created_at=created,
        completed_at=created + timedelta(milliseconds=100 + i),
        # Every seventh looks hard to the classifier yet was answered by fast: a likely misroute.
        route_cause="model",
        p_simple=0.2 if i % 7 == 0 else 0.9,
        p_complex=0.7 if i % 7 == 0 else 0.05,
        p_code=0.05,
        p_long_context=0.05 if i % 7 == 0 else 0.0,
    )


async def produce(settings: MobiusSettings, records: Sequence[CompletionRecord]) -> None:
    producer = AIOKafkaProducer(**client_options(settings.kafka), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for r in records:
            await producer.send(settings.topics.completions, encode_completion(r), key=r.request_id.encode())
        await producer.flush()
    finally:
        await producer.stop()
