-- source: analyst, what users do first after signing up: the second event of each user by ROW_NUMBER(), grouped
-- answers: the ten most common first actions after the signup, February signups
-- dialect: shared
SELECT event, COUNT(*) AS users
FROM (SELECT distinct_id, event, time,
             ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn
      FROM events) ranked
WHERE rn = 2
  AND distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Signup' AND time >= '2025-02-01' AND time < '2025-03-01')
GROUP BY event
ORDER BY users DESC, event
LIMIT 10
