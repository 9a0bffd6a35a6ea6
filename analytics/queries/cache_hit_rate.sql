-- description: Cache hit rate by tier and group
-- plot: bar x=tier y=hit_rate series=model_group
SELECT
    tier,
    model_group,
    sum(requests)                                  AS requests,
    sum(cache_hits)                                AS cache_hits,
    round(sum(cache_hits) / sum(requests), 4)      AS hit_rate
FROM completions_by_minute
WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')})
GROUP BY tier, model_group
ORDER BY tier, model_group
