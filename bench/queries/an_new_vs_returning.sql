-- source: analyst, new vs returning users per day: events joined with each user's first-seen time (a grouped derived table), conditional distinct counts
-- answers: per day of the first half of March, users first seen that day and returning users
-- dialect: shared
SELECT CAST(e.time AS DATE) AS day,
       COUNT(DISTINCT CASE WHEN CAST(f.first_seen AS DATE) = CAST(e.time AS DATE) THEN e.distinct_id END) AS new_users,
       COUNT(DISTINCT CASE WHEN CAST(f.first_seen AS DATE) < CAST(e.time AS DATE) THEN e.distinct_id END) AS returning_users
FROM events e
JOIN (SELECT distinct_id, MIN(time) AS first_seen FROM events GROUP BY distinct_id) f ON f.distinct_id = e.distinct_id
WHERE e.time >= '2025-03-01' AND e.time < '2025-03-15'
GROUP BY CAST(e.time AS DATE)
ORDER BY day
