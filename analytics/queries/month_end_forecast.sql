-- description: Month-end cost forecast: month to date plus the rate since --since for the rest of the month (USD)
-- plot: bar x=measure y=usd
WITH
    toStartOfMonth(now64(3, 'UTC'))                                    AS month_start,
    addMonths(month_start, 1)                                          AS month_end,
    (SELECT sum(cost_nano_usd) / 1e9 FROM completions_by_minute WHERE minute >= month_start) AS to_date,
    (SELECT sum(cost_nano_usd) / 1e9 FROM completions_by_minute
        WHERE minute >= toStartOfMinute({since:DateTime64(3, 'UTC')}))  AS recent,
    greatest(dateDiff('second', {since:DateTime64(3, 'UTC')}, now64(3, 'UTC')), 1) AS recent_s,
    dateDiff('second', now64(3, 'UTC'), month_end)                     AS left_s
SELECT measure, usd
FROM
(
    SELECT 'month to date' AS measure, to_date AS usd, 1 AS o
    UNION ALL SELECT 'rate per day', recent / recent_s * 86400, 2
    UNION ALL SELECT 'forecast at month end', to_date + recent / recent_s * left_s, 3
)
ORDER BY o
