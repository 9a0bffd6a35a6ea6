-- One immutable row per routed request. Typed columns only: analysts filter and sum them directly.
-- non_replicated_deduplication_window lets the sink retry a batch with the same
-- insert_deduplication_token without adding rows (a ReplicatedMergeTree does this by default).
CREATE TABLE IF NOT EXISTS completions
(
    request_id          String,
    user_id             String,
    org_id              LowCardinality(String),  -- '' when the user has no organisation
    tier                LowCardinality(String),
    query_type          LowCardinality(String),
    complexity          Float32,
    model_group         LowCardinality(String),
    model               LowCardinality(String),  -- deployment model, '' when none answered
    provider            LowCardinality(String),
    status              LowCardinality(String),
    error_code          LowCardinality(String),
    prompt_tokens       UInt32,
    completion_tokens   UInt32,
    total_tokens        UInt32,
    cost_nano_usd       UInt64,                  -- exact: billionths of a US dollar
    total_latency_ms    UInt32,
    provider_latency_ms UInt32,
    queue_wait_ms       UInt32,
    attempted_models    Array(LowCardinality(String)),
    fallback_count      UInt16,
    cache_hit           Bool,
    worker_id           LowCardinality(String),
    created_at          DateTime64(3, 'UTC'),
    completed_at        DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (org_id, tier, model, created_at, request_id)
TTL toDateTime(created_at) + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
