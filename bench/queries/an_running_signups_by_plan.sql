-- source: analyst, cumulative signups per plan: SUM(COUNT(*)) OVER (PARTITION BY plan ORDER BY week), a window over a grouped result
-- answers: signups per plan and Monday-start week, and the running total per plan
SELECT `plan`, DATE(time) - INTERVAL WEEKDAY(time) DAY AS week_start, COUNT(*) AS signups,
       SUM(COUNT(*)) OVER (PARTITION BY `plan` ORDER BY DATE(time) - INTERVAL WEEKDAY(time) DAY) AS cumulative_signups
FROM events
WHERE event = 'Signup'
GROUP BY `plan`, DATE(time) - INTERVAL WEEKDAY(time) DAY
ORDER BY `plan`, week_start
-- duckdb:
SELECT plan, CAST(date_trunc('week', time) AS DATE) AS week_start, COUNT(*) AS signups,
       SUM(COUNT(*)) OVER (PARTITION BY plan ORDER BY CAST(date_trunc('week', time) AS DATE)) AS cumulative_signups
FROM events
WHERE event = 'Signup'
GROUP BY plan, CAST(date_trunc('week', time) AS DATE)
ORDER BY plan, week_start
