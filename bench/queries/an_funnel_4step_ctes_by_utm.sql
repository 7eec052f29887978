-- source: analyst, plain-SQL 4-step funnel as a chain of CTEs (first time of each step after the previous one, all within 7 days of the signup), broken out by utm_source
-- answers: Signup → Page View → Add To Cart → Purchase within 7 days, February signups, per acquisition source
-- dialect: shared
WITH s AS (
  SELECT distinct_id, utm_source, time AS t0
  FROM events WHERE event = 'Signup' AND time >= '2025-02-01' AND time < '2025-03-01'
), v AS (
  SELECT s.distinct_id, MIN(e.time) AS t1
  FROM s JOIN events e ON e.distinct_id = s.distinct_id AND e.event = 'Page View'
                      AND e.time > s.t0 AND e.time <= s.t0 + INTERVAL 7 DAY
  GROUP BY s.distinct_id
), c AS (
  SELECT v.distinct_id, MIN(e.time) AS t2
  FROM v JOIN s ON s.distinct_id = v.distinct_id
         JOIN events e ON e.distinct_id = v.distinct_id AND e.event = 'Add To Cart'
                      AND e.time > v.t1 AND e.time <= s.t0 + INTERVAL 7 DAY
  GROUP BY v.distinct_id
), p AS (
  SELECT c.distinct_id
  FROM c JOIN s ON s.distinct_id = c.distinct_id
         JOIN events e ON e.distinct_id = c.distinct_id AND e.event = 'Purchase'
                      AND e.time > c.t2 AND e.time <= s.t0 + INTERVAL 7 DAY
  GROUP BY c.distinct_id
)
SELECT s.utm_source, COUNT(*) AS signups, COUNT(v.distinct_id) AS viewed, COUNT(c.distinct_id) AS carted, COUNT(p.distinct_id) AS purchased
FROM s
LEFT JOIN v ON v.distinct_id = s.distinct_id
LEFT JOIN c ON c.distinct_id = s.distinct_id
LEFT JOIN p ON p.distinct_id = s.distinct_id
GROUP BY s.utm_source
ORDER BY s.utm_source
