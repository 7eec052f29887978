-- source: Metabase question builder, "Sum of amount by time: month and plan", filter event is Purchase (month grain through DATE_FORMAT and STR_TO_DATE)
-- answers: revenue per month broken out by plan
SELECT STR_TO_DATE(CONCAT(DATE_FORMAT(`events`.`time`, '%Y-%m'), '-01'), '%Y-%m-%d') AS `time`, `events`.`plan` AS `plan`, SUM(`events`.`amount`) AS `sum`
FROM `events`
WHERE `events`.`event` = 'Purchase'
GROUP BY STR_TO_DATE(CONCAT(DATE_FORMAT(`events`.`time`, '%Y-%m'), '-01'), '%Y-%m-%d'), `events`.`plan`
ORDER BY STR_TO_DATE(CONCAT(DATE_FORMAT(`events`.`time`, '%Y-%m'), '-01'), '%Y-%m-%d') ASC, `events`.`plan` ASC
-- duckdb:
SELECT CAST(date_trunc('month', "time") AS date) AS "time", plan AS "plan", SUM(amount) AS "sum"
FROM events
WHERE event = 'Purchase'
GROUP BY 1, 2
ORDER BY 1 ASC, 2 ASC
