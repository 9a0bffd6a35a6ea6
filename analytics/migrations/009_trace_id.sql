-- The W3C trace id of each request's route (the same as its reply's and its completion record's),
-- so a trace in the operator's tracing backend leads to its row and back. Rows written before
-- this migration read ''. The bloom filter lets a look-up by one trace id skip most granules.
ALTER TABLE completions ADD COLUMN IF NOT EXISTS trace_id String DEFAULT '' AFTER p_long_context;
ALTER TABLE completions ADD INDEX IF NOT EXISTS trace_id_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 4;
