-- source: Metabase question builder, "Count by $city", filter $browser is Chrome or Safari, sorted by count descending, limit 10 ($city added as a tie-breaker)
-- answers: the ten cities with most Chrome and Safari events
SELECT `events`.`$city` AS `$city`, COUNT(*) AS `count`
FROM `events`
WHERE (`events`.`$browser` = 'Chrome' OR `events`.`$browser` = 'Safari')
GROUP BY `events`.`$city`
ORDER BY `count` DESC, `events`.`$city` ASC
LIMIT 10
-- duckdb:
SELECT "$city", COUNT(*) AS "count"
FROM events
WHERE ("$browser" = 'Chrome' OR "$browser" = 'Safari')
GROUP BY "$city"
ORDER BY "count" DESC, "$city" ASC
LIMIT 10
