-- description: Cost by day, model, group and tier (USD)
-- plot: line x=day y=cost_usd series=model
SELECT
    toDate(minute)                  AS day,
    model,
    model_group,
    tier,
    sum(requests)                   AS total_requests,
    sum(cost_nano_usd) / 1e9        AS cost_usd
FROM completions_by_minute
WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')})
GROUP BY day, model, model_group, tier
ORDER BY day, cost_usd DESC
