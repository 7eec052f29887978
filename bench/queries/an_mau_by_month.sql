-- source: analyst, monthly active users keyed by DATE_FORMAT(time, '%Y-%m')
-- answers: MAU per month
SELECT DATE_FORMAT(time, '%Y-%m') AS month, COUNT(DISTINCT distinct_id) AS mau
FROM events
GROUP BY DATE_FORMAT(time, '%Y-%m')
ORDER BY month
-- duckdb:
SELECT strftime(time, '%Y-%m') AS month, COUNT(DISTINCT distinct_id) AS mau
FROM events
GROUP BY strftime(time, '%Y-%m')
ORDER BY month
