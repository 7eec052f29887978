-- source: analyst, signups by browser in the last 7 days with a bare string bound (the 22× query of issue 13)
-- answers: signups per browser since 2025-03-25
SELECT `$browser`, COUNT(*) AS signups
FROM events
WHERE event = 'Signup' AND time >= '2025-03-25 00:00:00'
GROUP BY `$browser`
ORDER BY signups DESC, `$browser`
-- duckdb:
SELECT "$browser", COUNT(*) AS signups
FROM events
WHERE event = 'Signup' AND time >= '2025-03-25 00:00:00'
GROUP BY "$browser"
ORDER BY signups DESC, "$browser"
