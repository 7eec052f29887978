-- source: Metabase question builder, "Distinct values of distinct_id by time: week" (Metabase's MySQL week grain: the Sunday that starts the week, through YEARWEEK and STR_TO_DATE)
-- answers: weekly active users over the whole period, weeks starting on Sunday
SELECT STR_TO_DATE(CONCAT(YEARWEEK(`events`.`time`), ' Sunday'), '%X%V %W') AS `time`, COUNT(DISTINCT `events`.`distinct_id`) AS `count`
FROM `events`
GROUP BY STR_TO_DATE(CONCAT(YEARWEEK(`events`.`time`), ' Sunday'), '%X%V %W')
ORDER BY STR_TO_DATE(CONCAT(YEARWEEK(`events`.`time`), ' Sunday'), '%X%V %W') ASC
-- duckdb:
SELECT CAST("time" AS date) - CAST(dayofweek("time") AS INTEGER) AS "time", COUNT(DISTINCT distinct_id) AS "count"
FROM events
GROUP BY 1
ORDER BY 1 ASC
