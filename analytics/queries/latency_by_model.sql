-- description: Latency p50 / p95 / p99 by model (ms, end to end)
-- plot: bar x=model y=p50_ms,p95_ms,p99_ms
SELECT
    model,
    sum(requests)                                           AS total_requests,
    round(quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms)[1]) AS p50_ms,
    round(quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms)[2]) AS p95_ms,
    round(quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms)[3]) AS p99_ms
FROM completions_by_minute
WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')}) AND model != ''
GROUP BY model
ORDER BY p95_ms DESC
