-- description: Top spending users and organisations (USD)
-- plot: barh x=spender y=cost_usd
SELECT
    if(org_id = '', concat('user:', user_id), concat('org:', org_id)) AS spender,
    count()                         AS requests,
    sum(total_tokens)               AS tokens,
    sum(cost_nano_usd) / 1e9        AS cost_usd
FROM completions
WHERE created_at >= {since:DateTime64(3, 'UTC')}
GROUP BY spender
ORDER BY cost_usd DESC
LIMIT 20
