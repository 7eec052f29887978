-- source: Superset line chart on a virtual dataset (SQL Lab query saved as dataset), time grain day, time range 2025-02-01 ≤ col < 2025-03-01, metric COUNT(*), row limit 10000: Superset wraps the dataset's SQL as virtual_table and bounds time with STR_TO_DATE('… .%f')
-- answers: events per day in February from a dataset of the non-anonymous columns
-- compare: unordered
SELECT DATE(time) AS __timestamp, COUNT(*) AS count
FROM (SELECT time, event, distinct_id, amount FROM events) AS virtual_table
WHERE time >= STR_TO_DATE('2025-02-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
  AND time < STR_TO_DATE('2025-03-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
GROUP BY DATE(time)
ORDER BY count DESC
LIMIT 10000
-- duckdb:
SELECT CAST("time" AS date) AS __timestamp, COUNT(*) AS count
FROM (SELECT "time", event, distinct_id, amount FROM events) AS virtual_table
WHERE "time" >= TIMESTAMP '2025-02-01 00:00:00'
  AND "time" < TIMESTAMP '2025-03-01 00:00:00'
GROUP BY CAST("time" AS date)
ORDER BY count DESC
LIMIT 10000
