-- source: analyst, hand-written DAU with bare string date bounds (MySQL converts the string to DATETIME)
-- answers: daily active users in March
SELECT DATE(time) AS day, COUNT(DISTINCT distinct_id) AS dau
FROM events
WHERE time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY DATE(time)
ORDER BY day
-- duckdb:
SELECT CAST(time AS DATE) AS day, COUNT(DISTINCT distinct_id) AS dau
FROM events
WHERE time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY CAST(time AS DATE)
ORDER BY day
