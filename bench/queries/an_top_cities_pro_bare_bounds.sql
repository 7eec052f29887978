-- source: analyst, top-N with bare string bounds: top cities by unique pro users in March (the 50× query of issue 13, in this workload's months)
-- answers: the ten cities with most distinct pro users in March
SELECT `$city`, COUNT(DISTINCT distinct_id) AS users
FROM events
WHERE `plan` = 'pro' AND time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY `$city`
ORDER BY users DESC, `$city`
LIMIT 10
-- duckdb:
SELECT "$city", COUNT(DISTINCT distinct_id) AS users
FROM events
WHERE plan = 'pro' AND time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY "$city"
ORDER BY users DESC, "$city"
LIMIT 10
