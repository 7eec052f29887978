-- source: Superset Big Number chart, metric COUNT_DISTINCT(distinct_id), time range March 2025
-- answers: monthly active users in March
SELECT COUNT(DISTINCT distinct_id) AS `COUNT_DISTINCT(distinct_id)`
FROM events
WHERE time >= STR_TO_DATE('2025-03-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
  AND time < STR_TO_DATE('2025-04-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
LIMIT 50000
-- duckdb:
SELECT COUNT(DISTINCT distinct_id) AS "COUNT_DISTINCT(distinct_id)"
FROM events
WHERE "time" >= TIMESTAMP '2025-03-01 00:00:00'
  AND "time" < TIMESTAMP '2025-04-01 00:00:00'
LIMIT 50000
