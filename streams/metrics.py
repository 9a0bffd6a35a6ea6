"""The worker's Prometheus metrics: what it routed, how long each stage took, tokens, cost, cache,
budgets, fallbacks, dead letters, alerts, and in-flight queries.

Labels are bounded sets only (group, model, tier, query type, outcome code, alert kind, stage,
partition): never a user, org or request id. Units are in the names (`_seconds`, `_usd`).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from schemas.events import CompletionRecord

logger = logging.getLogger("mobius.metrics")

# Seconds: from the routing overhead's milliseconds to a held query's minutes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter(
    "mobius_requests_total",
    "Routed queries, by the group that answered, model, tier, query type and outcome (ok or an error code).",
    ["group", "model", "tier", "query_type", "outcome"],
)
STAGE_SECONDS = Histogram(
    "mobius_request_stage_seconds",
    "Time per stage of a query: queue (Kafka to worker), routing (ours), provider, total.",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
TOKENS = Counter(
    "mobius_tokens_total", "Tokens billed, by group, model and kind.", ["group", "model", "kind"]
)
COST = Counter("mobius_cost_usd_total", "Cost of answers in USD, by group and model.", ["group", "model"])
CACHE_HITS = Counter("mobius_cache_hits_total", "Answers served from the response cache.", ["group"])
FALLBACKS = Counter("mobius_fallbacks_total", "Fallbacks taken, by the group asked for.", ["group"])
BUDGET_DOWNGRADES = Counter("mobius_budget_downgrades_total", "Queries moved to a cheaper group.", ["tier"])
BUDGET_REFUSALS = Counter("mobius_budget_refusals_total", "Queries refused by a spend cap.", ["tier"])
DEAD_LETTERS = Counter("mobius_dead_letters_total", "Events written to the dead-letter topic.")
ALERTS = Counter("mobius_alerts_total", "Alerts raised, by kind.", ["kind"])
IN_FLIGHT = Gauge("mobius_in_flight_queries", "Queries taken from Kafka and not yet acknowledged.")

_REFUSED = frozenset({"budget_exceeded", "budget_unavailable"})


class PrometheusMetrics:
    """The pipeline's metrics port (streams.pipeline.ports.PipelineMetrics), on the globals above."""

    def completed(self, record: CompletionRecord) -> None:
        group, model = record.model_group, record.model or "none"
        outcome = "ok" if record.status == "ok" else record.error_code or "error"
        REQUESTS.labels(group, model, record.tier, record.query_type, outcome).inc()
        total = record.total_latency_ms / 1000
        provider, queue = record.provider_latency_ms / 1000, record.queue_wait_ms / 1000
        STAGE_SECONDS.labels("total").observe(total)
        STAGE_SECONDS.labels("queue").observe(queue)
        STAGE_SECONDS.labels("provider").observe(provider)
        STAGE_SECONDS.labels("routing").observe(max(0.0, total - provider - queue))
        TOKENS.labels(group, model, "prompt").inc(record.prompt_tokens)
        TOKENS.labels(group, model, "completion").inc(record.completion_tokens)
        COST.labels(group, model).inc(record.cost_nano_usd / 1e9)
        if record.cache_hit:
            CACHE_HITS.labels(group).inc()
        if record.fallback_count:
            FALLBACKS.labels(group).inc(record.fallback_count)
        if record.budget_downgraded:
            BUDGET_DOWNGRADES.labels(record.tier).inc()
        if record.error_code in _REFUSED:
            BUDGET_REFUSALS.labels(record.tier).inc()

    def dead_lettered(self) -> None:
        DEAD_LETTERS.inc()


def serve_metrics(port: int | None, what: str) -> None:
    """/metrics on `port` (all interfaces, as Prometheus scrapes); None: off. A port in use is
    logged, not fatal: the process does its job without metrics."""
    if port is None:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        logger.warning("%s: no metrics on port %d: %s", what, port, exc)
        return
    logger.warning("%s: metrics on :%d/metrics", what, port)
