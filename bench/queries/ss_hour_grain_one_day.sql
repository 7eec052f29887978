-- source: Superset line chart, time grain hour (DATE_ADD(DATE(col), INTERVAL (HOUR(col)) HOUR)), time range one day, metric COUNT_DISTINCT(distinct_id)
-- answers: hourly unique users on 2025-03-10
SELECT DATE_ADD(DATE(time), INTERVAL (HOUR(time)) HOUR) AS __timestamp, COUNT(DISTINCT distinct_id) AS `COUNT_DISTINCT(distinct_id)`
FROM events
WHERE time >= STR_TO_DATE('2025-03-10 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
  AND time < STR_TO_DATE('2025-03-11 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
GROUP BY DATE_ADD(DATE(time), INTERVAL (HOUR(time)) HOUR)
ORDER BY __timestamp
LIMIT 10000
-- duckdb:
SELECT date_trunc('hour', "time") AS __timestamp, COUNT(DISTINCT distinct_id) AS "COUNT_DISTINCT(distinct_id)"
FROM events
WHERE "time" >= TIMESTAMP '2025-03-10 00:00:00'
  AND "time" < TIMESTAMP '2025-03-11 00:00:00'
GROUP BY 1
ORDER BY 1
LIMIT 10000
