-- description: Actual cost against sending every answered query to the smart group (USD)
-- plot: bar x=tier y=cost_usd,all_smart_usd
WITH smart AS
(
    SELECT avg(input_usd_per_token) AS input_price, avg(output_usd_per_token) AS output_price
    FROM model_prices FINAL
    WHERE model_group = 'smart'
)
SELECT
    tier,
    count()                                                           AS requests,
    sum(cost_nano_usd) / 1e9                                          AS cost_usd,
    toFloat64(sum(prompt_tokens) * any(smart.input_price)
        + sum(completion_tokens) * any(smart.output_price))           AS all_smart_usd,
    round(1 - cost_usd / nullIf(all_smart_usd, 0), 4)                 AS saved_share
FROM completions, smart
WHERE created_at >= {since:DateTime64(3, 'UTC')} AND status = 'ok'
GROUP BY tier
ORDER BY tier
