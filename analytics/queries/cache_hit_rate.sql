-- description: Cache hit rate by tier and group
-- plot: bar x=tier y=hit_rate series=model_group
SELECT
    tier,
    model_group,
    sum(requests)                                  AS total_requests,
    sum(cache_hits)                                AS hits,
    round(hits / total_requests, 4)                AS hit_rate
FROM completions_by_minute
WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')})
GROUP BY tier, model_group
ORDER BY tier, model_group
