-- source: analyst, plain-SQL 3-step funnel with a CTE and LEFT JOIN events … ON e.distinct_id = a.distinct_id AND e.time BETWEEN … (the form of issue 13)
-- answers: Signup → View Item → Add To Cart within 7 days of the signup, February signups
-- dialect: shared
WITH a AS (
  SELECT distinct_id, MIN(time) AS t0
  FROM events
  WHERE event = 'Signup' AND time >= '2025-02-01' AND time < '2025-03-01'
  GROUP BY distinct_id
)
SELECT COUNT(DISTINCT a.distinct_id) AS signed_up,
       COUNT(DISTINCT b.distinct_id) AS viewed_item,
       COUNT(DISTINCT c.distinct_id) AS added_to_cart
FROM a
LEFT JOIN events b ON b.distinct_id = a.distinct_id AND b.event = 'View Item'
                  AND b.time BETWEEN a.t0 AND a.t0 + INTERVAL 7 DAY
LEFT JOIN events c ON c.distinct_id = b.distinct_id AND c.event = 'Add To Cart'
                  AND c.time BETWEEN b.time AND a.t0 + INTERVAL 7 DAY
