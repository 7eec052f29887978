-- source: Grafana MySQL data source, time series panel, $__timeGroupAlias(time, 5m) over a 6-hour range, metric sum(amount) of purchases
-- answers: revenue in 5-minute buckets on the afternoon of 2025-03-14
SELECT UNIX_TIMESTAMP(time) DIV 300 * 300 AS "time", sum(amount) AS revenue
FROM events
WHERE time BETWEEN FROM_UNIXTIME(1741960800) AND FROM_UNIXTIME(1741982399)
  AND event = 'Purchase'
GROUP BY 1
ORDER BY 1
-- duckdb:
SELECT CAST(epoch("time") AS BIGINT) // 300 * 300 AS "time", sum(amount) AS revenue
FROM events
WHERE "time" BETWEEN TIMESTAMP '2025-03-14 14:00:00' AND TIMESTAMP '2025-03-14 19:59:59'
  AND event = 'Purchase'
GROUP BY 1
ORDER BY 1
