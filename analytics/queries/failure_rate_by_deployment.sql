-- description: Fallback and error rate by deployment (share of requests it was tried on)
-- plot: bar x=deployment y=failed_share,error_share
SELECT
    deployment,
    count()                                            AS tried,
    countIf(attempt_failed)                            AS failures,
    round(countIf(attempt_failed) / count(), 4)        AS failed_share,
    round(countIf(request_failed) / count(), 4)        AS error_share
FROM
(
    SELECT
        arrayJoin(arrayEnumerate(attempted_models))    AS i,
        attempted_models[i]                            AS deployment,
        i < length(attempted_models) OR status = 'error' AS attempt_failed,
        i = length(attempted_models) AND status = 'error' AS request_failed
    FROM completions
    WHERE created_at >= {since:DateTime64(3, 'UTC')}
)
GROUP BY deployment
ORDER BY failed_share DESC
