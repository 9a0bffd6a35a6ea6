-- description: Fallback and error rate by deployment (share of requests it was tried on)
-- plot: bar x=deployment y=failed_share,error_share
SELECT
    deployment,
    count()                                            AS tried,
    countIf(failed)                                    AS failed,
    round(countIf(failed) / count(), 4)                AS failed_share,
    round(countIf(final_error) / count(), 4)           AS error_share
FROM
(
    SELECT
        arrayJoin(arrayEnumerate(attempted_models))    AS i,
        attempted_models[i]                            AS deployment,
        i < length(attempted_models) OR status = 'error' AS failed,
        i = length(attempted_models) AND status = 'error' AS final_error
    FROM completions
    WHERE created_at >= {since:DateTime64(3, 'UTC')}
)
GROUP BY deployment
ORDER BY failed_share DESC
