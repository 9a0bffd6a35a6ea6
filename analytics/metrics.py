"""The sink's Prometheus metrics: rows and batches written, insert latency, freshness (how old a
batch's oldest Kafka record was when ClickHouse took it) and undecodable records."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SINK_ROWS = Counter("mobius_sink_rows_total", "Completion rows inserted into ClickHouse.")
SINK_BATCH_ROWS = Histogram(
    "mobius_sink_batch_rows", "Rows per insert.", buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000)
)
SINK_INSERT_SECONDS = Histogram(
    "mobius_sink_insert_seconds",
    "Time ClickHouse took for one insert, retries included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SINK_FRESHNESS_SECONDS = Histogram(
    "mobius_sink_freshness_seconds",
    "From a batch's oldest record reaching Kafka (its timestamp, set as the worker sends it) to its insert.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
SINK_DEAD_LETTERS = Counter("mobius_sink_dead_letters_total", "Completion records that could not be decoded.")
