-- Per minute x model x group x tier x query type: what dashboards and cost reports read.
-- Fed by a materialized view on every insert into completions; the sink's deduplication token
-- reaches this table too (deduplicate_blocks_in_dependent_materialized_views), so a retried batch
-- is not counted twice.
CREATE TABLE IF NOT EXISTS completions_by_minute
(
    minute            DateTime('UTC'),
    model             LowCardinality(String),
    model_group       LowCardinality(String),
    tier              LowCardinality(String),
    query_type        LowCardinality(String),
    requests          SimpleAggregateFunction(sum, UInt64),
    errors            SimpleAggregateFunction(sum, UInt64),
    fallbacks         SimpleAggregateFunction(sum, UInt64),
    cache_hits        SimpleAggregateFunction(sum, UInt64),
    prompt_tokens     SimpleAggregateFunction(sum, UInt64),
    completion_tokens SimpleAggregateFunction(sum, UInt64),
    cost_nano_usd     SimpleAggregateFunction(sum, UInt64),
    latency_ms        AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, model, model_group, tier, query_type)
TTL minute + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS completions_by_minute_mv TO completions_by_minute AS
SELECT
    toStartOfMinute(created_at)                      AS minute,
    model,
    model_group,
    tier,
    query_type,
    toUInt64(count())                                AS requests,
    toUInt64(countIf(status = 'error'))              AS errors,
    toUInt64(countIf(fallback_count > 0))            AS fallbacks,
    toUInt64(countIf(cache_hit))                     AS cache_hits,
    toUInt64(sum(prompt_tokens))                     AS prompt_tokens,
    toUInt64(sum(completion_tokens))                 AS completion_tokens,
    toUInt64(sum(cost_nano_usd))                     AS cost_nano_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(total_latency_ms) AS latency_ms
FROM completions
GROUP BY minute, model, model_group, tier, query_type;
