-- The price per token of every deployment in the routing config, written by the sink at start,
-- so analysts can price "what if" questions (e.g. everything on the smart group) in SQL.
CREATE TABLE IF NOT EXISTS model_prices
(
    model_group          LowCardinality(String),
    model                LowCardinality(String),
    input_usd_per_token  Decimal(18, 12),
    output_usd_per_token Decimal(18, 12),
    updated_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (model_group, model);
