-- source: Grafana MySQL data source, table panel (format: table), $__timeFilter(time) over March, top 20 cities by revenue
-- answers: which cities bring the most revenue in March, with buyers and orders
SELECT `$city` AS city, sum(amount) AS revenue, count(DISTINCT distinct_id) AS buyers, count(*) AS orders
FROM events
WHERE time BETWEEN FROM_UNIXTIME(1740787200) AND FROM_UNIXTIME(1743465599)
  AND event = 'Purchase'
GROUP BY `$city`
ORDER BY revenue DESC, city
LIMIT 20
-- duckdb:
SELECT "$city" AS city, sum(amount) AS revenue, count(DISTINCT distinct_id) AS buyers, count(*) AS orders
FROM events
WHERE "time" BETWEEN TIMESTAMP '2025-03-01 00:00:00' AND TIMESTAMP '2025-03-31 23:59:59'
  AND event = 'Purchase'
GROUP BY "$city"
ORDER BY revenue DESC, city
LIMIT 20
