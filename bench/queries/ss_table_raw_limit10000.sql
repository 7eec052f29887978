-- source: Superset table chart in raw-records mode on the events dataset, adhoc filter event = 'Purchase', time range one week, ordered by time descending, row limit 10000 (distinct_id added as a tie-breaker)
-- answers: the purchases of the first week of March, row by row
SELECT time AS time, distinct_id AS distinct_id, `$city` AS `$city`, amount AS amount
FROM (SELECT * FROM events) AS virtual_table
WHERE event = 'Purchase'
  AND time >= STR_TO_DATE('2025-03-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
  AND time < STR_TO_DATE('2025-03-08 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
ORDER BY time DESC, distinct_id
LIMIT 10000
-- duckdb:
SELECT "time", distinct_id, "$city", amount
FROM (SELECT * FROM events) AS virtual_table
WHERE event = 'Purchase'
  AND "time" >= TIMESTAMP '2025-03-01 00:00:00'
  AND "time" < TIMESTAMP '2025-03-08 00:00:00'
ORDER BY "time" DESC, distinct_id
LIMIT 10000
