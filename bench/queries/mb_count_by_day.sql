-- source: Metabase question builder, "Count of events by time: day", filter "time between 2025-03-01 and 2025-03-31" (MySQL driver: backquoted names, CAST(… AS date) for the day grain, TIMESTAMP('…') bounds)
-- answers: how many events arrived each day of March 2025
SELECT CAST(`events`.`time` AS date) AS `time`, COUNT(*) AS `count`
FROM `events`
WHERE (`events`.`time` >= TIMESTAMP('2025-03-01 00:00:00') AND `events`.`time` < TIMESTAMP('2025-04-01 00:00:00'))
GROUP BY CAST(`events`.`time` AS date)
ORDER BY CAST(`events`.`time` AS date) ASC
-- duckdb:
SELECT CAST("events"."time" AS date) AS "time", COUNT(*) AS "count"
FROM "events"
WHERE ("events"."time" >= TIMESTAMP '2025-03-01 00:00:00' AND "events"."time" < TIMESTAMP '2025-04-01 00:00:00')
GROUP BY CAST("events"."time" AS date)
ORDER BY CAST("events"."time" AS date) ASC
