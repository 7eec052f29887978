-- source: analyst, one-day churn: signups with no event a day or more after their signup (correlated NOT EXISTS with a window relative to the outer row), per signup day
-- answers: per signup day of early March, the signups who never came back after their first day
-- dialect: shared
SELECT CAST(s.time AS DATE) AS signup_day, COUNT(*) AS never_back
FROM events s
WHERE s.event = 'Signup' AND s.time >= '2025-03-01' AND s.time < '2025-03-15'
  AND NOT EXISTS (SELECT 1 FROM events e
                  WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY)
GROUP BY CAST(s.time AS DATE)
ORDER BY signup_day
