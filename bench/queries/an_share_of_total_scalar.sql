-- source: analyst, share of total with an uncorrelated scalar subquery in a grouped select list (MySQL accepts it under ONLY_FULL_GROUP_BY)
-- answers: each event's count and percentage of all events in March
-- dialect: shared
SELECT event, COUNT(*) AS events,
       ROUND(100.0 * COUNT(*) / (SELECT COUNT(*) FROM events WHERE time >= '2025-03-01' AND time < '2025-04-01'), 2) AS pct
FROM events
WHERE time >= '2025-03-01' AND time < '2025-04-01'
GROUP BY event
ORDER BY events DESC, event
