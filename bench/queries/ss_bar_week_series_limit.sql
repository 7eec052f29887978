-- source: Superset bar chart (timeseries), time grain week (DATE(DATE_SUB(col, INTERVAL DAYOFWEEK(col) - 1 DAY))), dimension event, series limit 5: Superset joins the top-5 series subquery back onto the main query
-- answers: weekly counts of the five most frequent events
-- compare: unordered
SELECT DATE(DATE_SUB(time, INTERVAL DAYOFWEEK(time) - 1 DAY)) AS __timestamp, event AS event, COUNT(*) AS count
FROM events
JOIN (SELECT event AS event__, COUNT(*) AS mme_inner__
      FROM events
      WHERE time >= STR_TO_DATE('2025-01-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
        AND time < STR_TO_DATE('2025-04-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
      GROUP BY event
      ORDER BY mme_inner__ DESC
      LIMIT 5) AS series_limit ON event = event__
WHERE time >= STR_TO_DATE('2025-01-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
  AND time < STR_TO_DATE('2025-04-01 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f')
GROUP BY DATE(DATE_SUB(time, INTERVAL DAYOFWEEK(time) - 1 DAY)), event
ORDER BY count DESC
LIMIT 10000
-- duckdb:
SELECT CAST("time" AS date) - CAST(dayofweek("time") AS INTEGER) AS __timestamp, event AS event, COUNT(*) AS count
FROM events
JOIN (SELECT event AS event__, COUNT(*) AS mme_inner__
      FROM events
      WHERE "time" >= TIMESTAMP '2025-01-01 00:00:00'
        AND "time" < TIMESTAMP '2025-04-01 00:00:00'
      GROUP BY event
      ORDER BY mme_inner__ DESC
      LIMIT 5) AS series_limit ON event = event__
WHERE "time" >= TIMESTAMP '2025-01-01 00:00:00'
  AND "time" < TIMESTAMP '2025-04-01 00:00:00'
GROUP BY 1, 2
ORDER BY count DESC
LIMIT 10000
