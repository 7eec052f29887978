-- source: analyst, conditional aggregates: COUNT(DISTINCT CASE WHEN … THEN distinct_id END) and SUM(CASE …) per day
-- answers: per day of March, active users, buyers, revenue and signups
-- dialect: shared
SELECT CAST(time AS DATE) AS day,
       COUNT(DISTINCT distinct_id) AS active_users,
       COUNT(DISTINCT CASE WHEN event = 'Purchase' THEN distinct_id END) AS buyers,
       SUM(CASE WHEN event = 'Purchase' THEN amount ELSE 0 END) AS revenue,
       SUM(CASE WHEN event = 'Signup' THEN 1 ELSE 0 END) AS signups
FROM events
WHERE time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY CAST(time AS DATE)
ORDER BY day
