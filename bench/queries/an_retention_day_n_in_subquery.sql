-- source: analyst, day-N retention of one day's signup cohort with bare string bounds and a cohort IN (SELECT …) (the 438× query of issue 13)
-- answers: users of the 2025-01-15 signup cohort active on day 0..30
SELECT DATEDIFF(time, '2025-01-15') AS day_n, COUNT(DISTINCT distinct_id) AS users
FROM events
WHERE distinct_id IN (SELECT distinct_id FROM events
                      WHERE event = 'Signup' AND time >= '2025-01-15 00:00:00' AND time < '2025-01-16 00:00:00')
  AND time >= '2025-01-15 00:00:00' AND time < '2025-02-15 00:00:00'
GROUP BY day_n
ORDER BY day_n
-- duckdb:
SELECT CAST(time AS DATE) - DATE '2025-01-15' AS day_n, COUNT(DISTINCT distinct_id) AS users
FROM events
WHERE distinct_id IN (SELECT distinct_id FROM events
                      WHERE event = 'Signup' AND time >= '2025-01-15 00:00:00' AND time < '2025-01-16 00:00:00')
  AND time >= '2025-01-15 00:00:00' AND time < '2025-02-15 00:00:00'
GROUP BY day_n
ORDER BY day_n
