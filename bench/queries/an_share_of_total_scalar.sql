-- source: analyst, share of total with an uncorrelated scalar subquery in a grouped select list (MySQL accepts it under ONLY_FULL_GROUP_BY)
-- answers: each event's count and percentage of all events in March
-- note: MySQL divides DECIMAL 100.0 * COUNT(*) by a BIGINT exactly, rounded to 1 + div_precision_increment (4) = 5 digits, before ROUND(…, 2): 48200.0 / 14073 is 3.42500, which rounds to 3.43; DuckDB divides in DOUBLE (3.4249982…, which rounds to 3.42), so its text rounds to 5 digits first to ask the same question
SELECT event, COUNT(*) AS events,
       ROUND(100.0 * COUNT(*) / (SELECT COUNT(*) FROM events WHERE time >= '2025-03-01' AND time < '2025-04-01'), 2) AS pct
FROM events
WHERE time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY event
ORDER BY events DESC, event
-- duckdb:
SELECT event, COUNT(*) AS events,
       ROUND(ROUND(100.0 * COUNT(*) / (SELECT COUNT(*) FROM events WHERE time >= '2025-03-01' AND time < '2025-04-01'), 5), 2) AS pct
FROM events
WHERE time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY event
ORDER BY events DESC, event
