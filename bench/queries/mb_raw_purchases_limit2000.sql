-- source: Metabase "raw data" table view of events, filtered event = Purchase and plan = enterprise, sorted by time descending (Metabase caps raw rows at LIMIT 2000); distinct_id is a tie-breaker so that both engines return the same 2000 rows
-- answers: the latest enterprise purchases, row by row
SELECT `events`.`time` AS `time`, `events`.`event` AS `event`, `events`.`distinct_id` AS `distinct_id`, `events`.`$browser` AS `$browser`, `events`.`$city` AS `$city`, `events`.`amount` AS `amount`
FROM `events`
WHERE (`events`.`event` = 'Purchase' AND `events`.`plan` = 'enterprise')
ORDER BY `events`.`time` DESC, `events`.`distinct_id` ASC
LIMIT 2000
-- duckdb:
SELECT "time", event, distinct_id, "$browser", "$city", amount
FROM events
WHERE (event = 'Purchase' AND plan = 'enterprise')
ORDER BY "time" DESC, distinct_id ASC
LIMIT 2000
