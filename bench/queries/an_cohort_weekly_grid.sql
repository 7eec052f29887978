-- source: analyst, weekly cohort retention grid: cohort = week of the signup (weeks counted from 2025-01-01), column = whole weeks between signup day and activity
-- answers: users of each signup-week cohort active N weeks later
SELECT FLOOR(DATEDIFF(c.signup_day, '2025-01-01') / 7) AS cohort_week,
       FLOOR(DATEDIFF(e.time, c.signup_day) / 7) AS weeks_later,
       COUNT(DISTINCT e.distinct_id) AS users
FROM (SELECT distinct_id, DATE(MIN(time)) AS signup_day FROM events WHERE event = 'Signup' GROUP BY distinct_id) c
JOIN events e ON e.distinct_id = c.distinct_id
GROUP BY cohort_week, weeks_later
ORDER BY cohort_week, weeks_later
-- duckdb:
SELECT floor((c.signup_day - DATE '2025-01-01') / 7) AS cohort_week,
       floor((CAST(e.time AS DATE) - c.signup_day) / 7) AS weeks_later,
       COUNT(DISTINCT e.distinct_id) AS users
FROM (SELECT distinct_id, CAST(MIN(time) AS DATE) AS signup_day FROM events WHERE event = 'Signup' GROUP BY distinct_id) c
JOIN events e ON e.distinct_id = c.distinct_id
GROUP BY cohort_week, weeks_later
ORDER BY cohort_week, weeks_later
