-- source: Superset area chart, time grain month (DATE(DATE_SUB(col, INTERVAL DAYOFMONTH(col) - 1 DAY))), dimension plan, metric SUM(amount), adhoc filter event = 'Purchase'; SQLAlchemy's MySQL dialect quotes only reserved words, so plan goes out unquoted (MySQL 8 takes it)
-- answers: monthly revenue per plan
-- compare: unordered
SELECT DATE(DATE_SUB(time, INTERVAL DAYOFMONTH(time) - 1 DAY)) AS __timestamp, plan AS plan, SUM(amount) AS `SUM(amount)`
FROM events
WHERE event = 'Purchase'
GROUP BY DATE(DATE_SUB(time, INTERVAL DAYOFMONTH(time) - 1 DAY)), plan
ORDER BY `SUM(amount)` DESC
LIMIT 10000
-- duckdb:
SELECT CAST(date_trunc('month', "time") AS date) AS __timestamp, plan AS plan, SUM(amount) AS "SUM(amount)"
FROM events
WHERE event = 'Purchase'
GROUP BY 1, 2
ORDER BY "SUM(amount)" DESC
LIMIT 10000
