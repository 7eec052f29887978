-- source: Metabase question builder, "Distinct values of distinct_id by time: day", filters plan is pro, event is Login, time between 2025-02-01 and 2025-02-28
-- answers: daily active pro users who logged in, February
SELECT CAST(`events`.`time` AS date) AS `time`, COUNT(DISTINCT `events`.`distinct_id`) AS `count`
FROM `events`
WHERE (`events`.`plan` = 'pro' AND `events`.`event` = 'Login'
   AND `events`.`time` >= TIMESTAMP('2025-02-01 00:00:00') AND `events`.`time` < TIMESTAMP('2025-03-01 00:00:00'))
GROUP BY CAST(`events`.`time` AS date)
ORDER BY CAST(`events`.`time` AS date) ASC
-- duckdb:
SELECT CAST("time" AS date) AS "time", COUNT(DISTINCT distinct_id) AS "count"
FROM events
WHERE (plan = 'pro' AND event = 'Login'
   AND "time" >= TIMESTAMP '2025-02-01 00:00:00' AND "time" < TIMESTAMP '2025-03-01 00:00:00')
GROUP BY 1
ORDER BY 1 ASC
