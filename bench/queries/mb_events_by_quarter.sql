-- source: Metabase question builder, "Count by time: quarter and event" (Metabase's MySQL quarter grain: MAKEDATE plus INTERVAL QUARTER arithmetic)
-- answers: events per quarter per event name
SELECT (MAKEDATE(YEAR(`events`.`time`), 1) + INTERVAL QUARTER(`events`.`time`) QUARTER - INTERVAL 1 QUARTER) AS `time`, `events`.`event` AS `event`, COUNT(*) AS `count`
FROM `events`
GROUP BY (MAKEDATE(YEAR(`events`.`time`), 1) + INTERVAL QUARTER(`events`.`time`) QUARTER - INTERVAL 1 QUARTER), `events`.`event`
ORDER BY (MAKEDATE(YEAR(`events`.`time`), 1) + INTERVAL QUARTER(`events`.`time`) QUARTER - INTERVAL 1 QUARTER) ASC, `events`.`event` ASC
-- duckdb:
SELECT CAST(date_trunc('quarter', "time") AS date) AS "time", event, COUNT(*) AS "count"
FROM events
GROUP BY 1, 2
ORDER BY 1 ASC, 2 ASC
