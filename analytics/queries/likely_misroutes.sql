-- description: Likely misroutes: hard by the classifier's own odds but answered by fast, or the reverse
-- plot: bar x=direction y=requests series=tier
-- A request is suspect when its probability of being hard (complex or code) and the group that
-- answered disagree: P(hard) >= 0.5 answered by `fast`, or P(simple) >= 0.8 answered by a capable
-- group. Budget downgrades and free-tier rules route on purpose and are shown apart.
SELECT
    multiIf(
        model_group = 'fast' AND p_complex + p_code >= 0.5, 'hard answered by fast',
        model_group IN ('smart', 'code') AND p_simple >= 0.8, 'simple answered by capable',
        'other') AS direction,
    tier,
    budget_downgraded,
    route_cause,
    count() AS requests,
    round(avg(p_complex + p_code), 3) AS avg_p_hard,
    sum(cost_nano_usd) / 1e9 AS cost_usd,
    any(request_id) AS example_request_id
FROM completions
WHERE created_at >= {since:DateTime64(3, 'UTC')} AND status = 'ok' AND route_cause != ''
GROUP BY direction, tier, budget_downgraded, route_cause
HAVING direction != 'other'
ORDER BY requests DESC
