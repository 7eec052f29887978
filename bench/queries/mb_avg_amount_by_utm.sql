-- source: Metabase question builder, "Average of amount and count by utm_source", filter event is Purchase
-- answers: average order value and number of purchases per acquisition source (empty source included)
SELECT `events`.`utm_source` AS `utm_source`, AVG(`events`.`amount`) AS `avg`, COUNT(*) AS `count`
FROM `events`
WHERE `events`.`event` = 'Purchase'
GROUP BY `events`.`utm_source`
ORDER BY `events`.`utm_source` ASC
-- duckdb:
SELECT utm_source, AVG(amount) AS "avg", COUNT(*) AS "count"
FROM events
WHERE event = 'Purchase'
GROUP BY utm_source
ORDER BY utm_source ASC
