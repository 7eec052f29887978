-- source: analyst, LAG() OVER (PARTITION BY distinct_id ORDER BY time): seconds since the same user's previous event, per event name
-- answers: for March events, how long after the user's previous March event each event name comes, on average
SELECT event, COUNT(*) AS n, AVG(gap) AS avg_gap_seconds
FROM (SELECT event, TIMESTAMPDIFF(SECOND, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time), time) AS gap
      FROM events WHERE time >= '2025-03-01') t
WHERE gap IS NOT NULL
GROUP BY event
ORDER BY event
-- duckdb:
SELECT event, COUNT(*) AS n, AVG(gap) AS avg_gap_seconds
FROM (SELECT event, date_diff('second', lag(time) OVER (PARTITION BY distinct_id ORDER BY time), time) AS gap
      FROM events WHERE time >= '2025-03-01') t
WHERE gap IS NOT NULL
GROUP BY event
ORDER BY event
