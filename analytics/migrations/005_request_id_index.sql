-- The sink looks up each batch's request ids before inserting (a crash can re-send a record):
-- a bloom filter lets that lookup skip the granules that cannot hold them.
ALTER TABLE completions ADD INDEX IF NOT EXISTS request_id_bloom request_id TYPE bloom_filter(0.01) GRANULARITY 4;
