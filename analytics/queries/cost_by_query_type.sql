-- description: Cost and volume per query type and group (USD)
-- plot: bar x=query_type y=cost_usd series=model_group
SELECT
    query_type,
    model_group,
    sum(requests)                   AS total_requests,
    sum(cost_nano_usd) / 1e9        AS cost_usd,
    round(cost_usd / nullIf(total_requests, 0), 6) AS usd_per_request
FROM completions_by_minute
WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')})
GROUP BY query_type, model_group
ORDER BY cost_usd DESC
