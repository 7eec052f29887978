-- source: analyst, events-per-user histogram over March (users with 50 or more events in one bucket)
-- answers: how many users had 1, 2, …, 49, 50+ events in March
-- dialect: shared
SELECT LEAST(n, 50) AS events_in_march, COUNT(*) AS users
FROM (SELECT distinct_id, COUNT(*) AS n
      FROM events
      WHERE time >= '2025-03-01' AND time < '2025-04-01'
      GROUP BY distinct_id) per_user
GROUP BY LEAST(n, 50)
ORDER BY events_in_march
