-- source: analyst, churn with NOT EXISTS: users active in February with no event at all in March
-- answers: how many of February's active users churned
-- dialect: shared
SELECT COUNT(DISTINCT f.distinct_id) AS churned_users
FROM events f
WHERE f.time >= '2025-02-01' AND f.time < '2025-03-01'
  AND NOT EXISTS (SELECT 1 FROM events m
                  WHERE m.distinct_id = f.distinct_id AND m.time >= '2025-03-01' AND m.time < '2025-04-01')
