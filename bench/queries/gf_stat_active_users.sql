-- source: Grafana MySQL data source, stat panel, $__timeFilter(time) over the last 7 days of the data (2025-03-25 .. 2025-03-31 23:59:59)
-- answers: weekly active users of the last week
SELECT count(DISTINCT distinct_id) AS value
FROM events
WHERE time BETWEEN FROM_UNIXTIME(1742860800) AND FROM_UNIXTIME(1743465599)
-- duckdb:
SELECT count(DISTINCT distinct_id) AS value
FROM events
WHERE "time" BETWEEN TIMESTAMP '2025-03-25 00:00:00' AND TIMESTAMP '2025-03-31 23:59:59'
