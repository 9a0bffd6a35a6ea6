"""`mobius replay`: decide past queries again with a candidate config, call no provider.

Kafka keeps the queries: the topic is read from the offsets at `since` (by timestamp) to its end
as of now, by assignment with no consumer group, so no committed offset moves. Each query is
classified and routed by the current config and by the candidate; changed decisions are counted
by tier and (from, to) group, and both are priced: prompt tokens counted, output tokens taken from
the request's completion record in ClickHouse where there is one (otherwise the median of those
found, or `default_output_tokens` when none is).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from analytics.clickhouse import ClickHouseUnavailable
from analytics.query import QueryFailed, run_sql
from mobius.settings import MobiusSettings
from routing.classifier import QueryClassifier, build_classifier
from routing.policy import RouteRejected, decide_route
from routing.price_map import group_prices, group_windows, route_cost
from routing.router_config import RouterConfig
from routing.tokens import count_tokens
from schemas.events import MalformedEvent, QueryEvent, decode_query
from streams.kafka_options import client_options
from streams.topics import topic_partitions


@dataclass(frozen=True)
class Router:
    """One side of the comparison: a config's classifier, policy, windows and prices."""

    classifier: QueryClassifier
    config: RouterConfig
    windows: dict[str, int]
    prices: dict[str, tuple[Decimal, Decimal]]

    @staticmethod
    def of(config: RouterConfig, config_dir: Path) -> Router:
        classifier = build_classifier(config.mobius.classifier, config_dir)
        return Router(classifier, config, group_windows(config), group_prices(config))

    def group(self, query: QueryEvent, tokens: int) -> str:
        messages = [(m.role, m.content) for m in query.messages]
        hint = query.hints.query_type if query.hints else None
        classification = self.classifier.classify(messages, tokens, hint)
        try:
            return decide_route(
                classification,
                query.tier,
                self.config.mobius,
                self.windows,
                group_override=query.hints.model_group if query.hints else None,
            ).group
        except RouteRejected as exc:
            return f"refused:{exc.code}"

    def cost(self, group: str, prompt_tokens: int, output_tokens: int) -> Decimal:
        return route_cost(self.prices, group, prompt_tokens, output_tokens)


@dataclass
class ReplayReport:
    """Counts and costs of a replay, as `mobius replay --json` prints them."""

    since: str
    queries: int = 0
    malformed: int = 0
    changed: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (tier, from, to)
    current_usd: Decimal = Decimal(0)
    candidate_usd: Decimal = Decimal(0)
    output_tokens_from_records: int = 0
    output_tokens_assumed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "queries": self.queries,
            "malformed_skipped": self.malformed,
            "changed": sum(self.changed.values()),
            "changes": [
                {"tier": tier, "from": old, "to": new, "count": n}
                for (tier, old, new), n in self.changed.most_common()
            ],
            "current_cost_usd": float(round(self.current_usd, 6)),
            "candidate_cost_usd": float(round(self.candidate_usd, 6)),
            "cost_difference_usd": float(round(self.candidate_usd - self.current_usd, 6)),
            "output_tokens_from_completion_records": self.output_tokens_from_records,
            "output_tokens_assumed": self.output_tokens_assumed,
        }


async def read_queries(settings: MobiusSettings, since: datetime) -> tuple[list[QueryEvent], int]:
    """The queries on the input topics (the queries topic and each lane's) from `since` to their
    ends as of now; how many were malformed."""
    kafka = settings.kafka
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=kafka.max_message_bytes,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in settings.topics.inputs()
            for p in await topic_partitions(kafka, topic)
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        left = {}
        for tp in partitions:
            found = starts.get(tp)
            if found is not None and found.offset < ends[tp]:
                consumer.seek(tp, found.offset)
                left[tp] = ends[tp]
        queries, malformed = [], 0
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= left.get(tp, -1):
                        continue
                    try:
                        queries.append(decode_query(record.value or b""))
                    except MalformedEvent:
                        malformed += 1
            for tp in list(left):
                if await consumer.position(tp) >= left[tp]:
                    del left[tp]
        return queries, malformed
    finally:
        await consumer.stop()


def output_tokens_by_request(settings: MobiusSettings, request_ids: Sequence[str]) -> dict[str, int]:
    """Completion tokens of the requests answered before, from ClickHouse (empty when unreachable)."""
    found: dict[str, int] = {}
    for start in range(0, len(request_ids), 5000):
        chunk = list(request_ids[start : start + 5000])
        try:
            result = run_sql(
                settings.clickhouse,
                "SELECT request_id, any(completion_tokens) FROM completions "
                "WHERE request_id IN {ids:Array(String)} AND status = 'ok' GROUP BY request_id",
                {"ids": chunk},
            )
        except (QueryFailed, ClickHouseUnavailable):
            return found
        found.update({str(r[0]): int(r[1]) for r in result.rows})
    return found


def compare(
    queries: Sequence[QueryEvent],
    current: Router,
    candidate: Router,
    outputs: dict[str, int],
    report: ReplayReport,
    *,
    default_output_tokens: int = 400,
) -> ReplayReport:
    """Decide each query both ways and price both (pure, given the output tokens known)."""
    assumed = int(statistics.median(outputs.values())) if outputs else default_output_tokens
    for query in queries:
        tokens = count_tokens([m.model_dump() for m in query.messages])
        old, new = current.group(query, tokens), candidate.group(query, tokens)
        report.queries += 1
        if old != new:
            report.changed[(query.tier, old, new)] += 1
        output = outputs.get(query.request_id)
        if output is None:
            report.output_tokens_assumed += 1
            output = assumed
        else:
            report.output_tokens_from_records += 1
        report.current_usd += current.cost(old, tokens, output)
        report.candidate_usd += candidate.cost(new, tokens, output)
    return report
