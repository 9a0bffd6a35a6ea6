-- description: Cost per minute by model (USD), for spotting spikes
-- plot: line x=minute y=cost_usd series=model
SELECT minute, model, sum(cost_nano_usd) / 1e9 AS cost_usd, sum(requests) AS total_requests
FROM completions_by_minute
WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')})
GROUP BY minute, model
ORDER BY minute, model
