-- source: Superset pie chart, dimension $browser, metric COUNT(*), adhoc filter event = 'Signup', row limit 100
-- answers: signups per browser
SELECT `$browser` AS `$browser`, COUNT(*) AS count
FROM events
WHERE event = 'Signup'
GROUP BY `$browser`
ORDER BY count DESC, `$browser`
LIMIT 100
-- duckdb:
SELECT "$browser", COUNT(*) AS count
FROM events
WHERE event = 'Signup'
GROUP BY "$browser"
ORDER BY count DESC, "$browser"
LIMIT 100
