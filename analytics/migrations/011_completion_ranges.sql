-- ClickHouse's Avro input converts an out-of-range number silently: a negative Avro int lands in
-- a UInt32 column as 2^32 - n, and an int in UInt16 wraps modulo 2^16. Each such value is refused
-- here instead, so the batch falls back to the per-record path and the record is dead-lettered
-- with its reason (analytics/rows.py checks the same ranges). fallback_count widens to UInt32 so
-- that a negative count is told from a large one (an Avro int is below 2^31, a wrapped one not).
ALTER TABLE completions MODIFY COLUMN fallback_count UInt32;
ALTER TABLE completions ADD CONSTRAINT IF NOT EXISTS counts_are_not_negative CHECK
    prompt_tokens < 2147483648 AND completion_tokens < 2147483648 AND total_tokens < 2147483648
    AND total_latency_ms < 2147483648 AND provider_latency_ms < 2147483648
    AND queue_wait_ms < 2147483648 AND fallback_count < 2147483648
    AND cost_nano_usd < 9223372036854775808;
-- toDateTime(created_at) (the TTL) and the rollup's minute are DateTime, 1970 to 2106: a time
-- outside wraps, and a row whose TTL wrapped into the past is dropped at insert without a word.
ALTER TABLE completions ADD CONSTRAINT IF NOT EXISTS times_fit_datetime CHECK
    created_at >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC')
    AND created_at < toDateTime64('2106-02-07 06:28:16', 3, 'UTC')
    AND completed_at >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC')
    AND completed_at < toDateTime64('2106-02-07 06:28:16', 3, 'UTC');
