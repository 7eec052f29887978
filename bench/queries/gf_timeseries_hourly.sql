-- source: Grafana MySQL data source, time series panel, macros expanded: $__timeGroupAlias(time, 1h) → UNIX_TIMESTAMP(time) DIV 3600 * 3600 AS "time", $__timeFilter(time) → time BETWEEN FROM_UNIXTIME(…) AND FROM_UNIXTIME(…), dashboard range 2025-03-01 .. 2025-03-07 23:59:59
-- answers: events per hour over one week
SELECT UNIX_TIMESTAMP(time) DIV 3600 * 3600 AS "time", count(*) AS "events"
FROM events
WHERE time BETWEEN FROM_UNIXTIME(1740787200) AND FROM_UNIXTIME(1741391999)
GROUP BY 1
ORDER BY 1
-- duckdb:
SELECT CAST(epoch("time") AS BIGINT) // 3600 * 3600 AS "time", count(*) AS "events"
FROM events
WHERE "time" BETWEEN TIMESTAMP '2025-03-01 00:00:00' AND TIMESTAMP '2025-03-07 23:59:59'
GROUP BY 1
ORDER BY 1
