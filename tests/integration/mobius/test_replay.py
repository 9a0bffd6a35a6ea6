"""`mobius replay`: past queries decided again with a candidate config; no provider, no offsets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml
from aiokafka.admin import AIOKafkaAdminClient

from mobius.settings import DEFAULT_ROUTER_CONFIG, MobiusSettings, settings_env
from streams.client import MobiusClient
from streams.kafka_options import client_options
from streams.topics import ensure_topics
from tests.support.cli import run_mobius
from tests.support.pipeline import isolated_settings

QUESTIONS = [
    ("What is the capital of Peru?", "pro"),
    ("Prove that the sum of two odd numbers is even.", "pro"),
    ("A loan of 20,000 at 6% over 5 years: what is the monthly payment and the total interest?", "pro"),
    ("Prove that there are infinitely many primes.", "free"),
    ("Translate 'good night' into German", "enterprise"),
]


async def _groups(settings: MobiusSettings) -> set[str]:
    admin = AIOKafkaAdminClient(**client_options(settings.kafka))
    await admin.start()
    try:
        return {group for group, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()


def test_replay_counts_changed_decisions_and_prices_both(
    stack_settings: MobiusSettings, tmp_path: Path
) -> None:
    settings = isolated_settings(stack_settings)
    asyncio.run(ensure_topics(settings.kafka, settings.topics.all()))

    async def publish() -> None:
        async with MobiusClient(settings.kafka, settings.topics) as client:
            for i, (text, tier) in enumerate(QUESTIONS):
                await client.publish([{"role": "user", "content": text}], user_id=f"u{i}", tier=tier)  # type: ignore[arg-type]
            await client.publish_raw(b"not a query")

    asyncio.run(publish())
    candidate = yaml.safe_load(DEFAULT_ROUTER_CONFIG.read_text())
    # The candidate sends pro's complex queries to fast: the two pro proofs and sums change.
    for rule in candidate["mobius"]["rules"]:
        if rule["when"].get("query_type") == ["complex"]:
            rule["when"]["tier"] = ["enterprise"]
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(candidate))
    groups_before = asyncio.run(_groups(settings))

    result = run_mobius(
        "replay", "--since", "1h", "--config", str(path), "--json", env=settings_env(settings)
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["queries"], report["malformed_skipped"]) == (5, 1)
    assert report["changes"] == [{"tier": "pro", "from": "smart", "to": "fast", "count": 2}]
    assert report["candidate_cost_usd"] < report["current_cost_usd"]
    assert report["cost_difference_usd"] < 0
    assert report["output_tokens_assumed"] == 5  # nothing answered yet: no completion records
    assert asyncio.run(_groups(settings)) == groups_before  # no consumer group, no offsets moved
