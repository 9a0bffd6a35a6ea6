-- Every request id the completions table holds, sorted by request id: the sink looks up each
-- batch's ids here before inserting (a crash can make a worker re-send a record), and a primary-key
-- lookup stays fast however large `completions` grows. Kept by a materialized view, same TTL.
CREATE TABLE IF NOT EXISTS completion_ids
(
    request_id  String,
    created_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY request_id
TTL toDateTime(created_at) + INTERVAL {ttl_days} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS completion_ids_mv TO completion_ids AS
SELECT request_id, created_at FROM completions;

INSERT INTO completion_ids SELECT request_id, created_at FROM completions;
