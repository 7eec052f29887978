-- source: analyst, weekly active users with Monday-start weeks (DATE(time) - INTERVAL WEEKDAY(time) DAY)
-- answers: WAU per ISO week
SELECT DATE(time) - INTERVAL WEEKDAY(time) DAY AS week_start, COUNT(DISTINCT distinct_id) AS wau
FROM events
GROUP BY week_start
ORDER BY week_start
-- duckdb:
SELECT CAST(date_trunc('week', time) AS DATE) AS week_start, COUNT(DISTINCT distinct_id) AS wau
FROM events
GROUP BY week_start
ORDER BY week_start
