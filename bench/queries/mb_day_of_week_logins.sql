-- source: Metabase question builder, "Count by time: day of week", filter event is Login (DAYOFWEEK: 1 = Sunday)
-- answers: logins per weekday
SELECT DAYOFWEEK(`events`.`time`) AS `time`, COUNT(*) AS `count`
FROM `events`
WHERE `events`.`event` = 'Login'
GROUP BY DAYOFWEEK(`events`.`time`)
ORDER BY DAYOFWEEK(`events`.`time`) ASC
-- duckdb:
SELECT dayofweek("time") + 1 AS "time", COUNT(*) AS "count"
FROM events
WHERE event = 'Login'
GROUP BY 1
ORDER BY 1 ASC
