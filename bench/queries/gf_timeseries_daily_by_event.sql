-- source: Grafana MySQL data source, time series panel with one series per event ($__timeGroupAlias(time, 1d), metric column), events chosen by a multi-value dashboard variable, range 2025-01-01 .. 2025-03-31 23:59:59
-- answers: daily Signup, Login and Purchase counts as three series
SELECT UNIX_TIMESTAMP(time) DIV 86400 * 86400 AS "time", event AS metric, count(*) AS value
FROM events
WHERE time BETWEEN FROM_UNIXTIME(1735689600) AND FROM_UNIXTIME(1743465599)
  AND event IN ('Signup', 'Login', 'Purchase')
GROUP BY 1, 2
ORDER BY 1, 2
-- duckdb:
SELECT CAST(epoch("time") AS BIGINT) // 86400 * 86400 AS "time", event AS metric, count(*) AS value
FROM events
WHERE "time" BETWEEN TIMESTAMP '2025-01-01 00:00:00' AND TIMESTAMP '2025-03-31 23:59:59'
  AND event IN ('Signup', 'Login', 'Purchase')
GROUP BY 1, 2
ORDER BY 1, 2
