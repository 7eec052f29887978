-- source: Tableau (MySQL connector) line of MONTH(time) by $os with a date range filter: Tableau truncates with TIMESTAMP(DATE_FORMAT(…, '%Y-%m-01 00:00:00')) and filters on typed literals
-- answers: distinct users per month per operating system
SELECT `events`.`$os` AS `$os`, TIMESTAMP(DATE_FORMAT(`events`.`time`, '%Y-%m-01 00:00:00')) AS `tmn:time:ok`, COUNT(DISTINCT `events`.`distinct_id`) AS `ctd:distinct_id:ok`
FROM `events`
WHERE ((`events`.`time` >= TIMESTAMP('2025-01-01 00:00:00')) AND (`events`.`time` < TIMESTAMP('2025-04-01 00:00:00')))
GROUP BY 1, 2
-- duckdb:
SELECT "$os", date_trunc('month', "time") AS "tmn:time:ok", COUNT(DISTINCT distinct_id) AS "ctd:distinct_id:ok"
FROM events
WHERE (("time" >= TIMESTAMP '2025-01-01 00:00:00') AND ("time" < TIMESTAMP '2025-04-01 00:00:00'))
GROUP BY 1, 2
