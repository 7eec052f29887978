-- source: Tableau (MySQL connector) bar of "Number of Records" by event: Tableau counts records as SUM(1) and groups by ordinal
-- answers: events per name
SELECT `events`.`event` AS `event`, SUM(1) AS `sum:Number of Records:ok`
FROM `events`
GROUP BY 1
-- duckdb:
SELECT event AS "event", SUM(1) AS "sum:Number of Records:ok"
FROM events
GROUP BY 1
