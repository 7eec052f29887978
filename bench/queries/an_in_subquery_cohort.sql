-- source: analyst, behaviour of a cohort given as IN (SELECT …): users who signed up from google in January, what they did in March
-- answers: March events and distinct users per event name for the google January signups
-- dialect: shared
SELECT event, COUNT(*) AS events, COUNT(DISTINCT distinct_id) AS users
FROM events
WHERE distinct_id IN (SELECT distinct_id FROM events
                      WHERE event = 'Signup' AND utm_source = 'google' AND time < '2025-02-01')
  AND time >= '2025-03-01'
GROUP BY event
ORDER BY event
