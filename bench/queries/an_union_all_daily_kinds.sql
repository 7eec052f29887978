-- source: analyst, UNION ALL of two grouped selects into one long table for a chart
-- answers: signups and purchases per day in March, one row per kind and day
-- dialect: shared
SELECT 'signup' AS kind, CAST(time AS DATE) AS day, COUNT(*) AS n
FROM events WHERE event = 'Signup' AND time >= '2025-03-01'
GROUP BY CAST(time AS DATE)
UNION ALL
SELECT 'purchase' AS kind, CAST(time AS DATE) AS day, COUNT(*) AS n
FROM events WHERE event = 'Purchase' AND time >= '2025-03-01'
GROUP BY CAST(time AS DATE)
ORDER BY kind, day
