-- source: analyst, self-join within a session-like window: a Search followed by a Purchase of the same user within 30 minutes, by browser
-- answers: per browser, users who searched in March and how many of them bought within 30 minutes of a search
SELECT s.`$browser`, COUNT(DISTINCT s.distinct_id) AS searchers, COUNT(DISTINCT p.distinct_id) AS bought_within_30_min
FROM events s
LEFT JOIN events p ON p.distinct_id = s.distinct_id AND p.event = 'Purchase'
                  AND p.time > s.time AND p.time <= s.time + INTERVAL 30 MINUTE
WHERE s.event = 'Search' AND s.time >= '2025-03-01'
GROUP BY s.`$browser`
ORDER BY s.`$browser`
-- duckdb:
SELECT s."$browser", COUNT(DISTINCT s.distinct_id) AS searchers, COUNT(DISTINCT p.distinct_id) AS bought_within_30_min
FROM events s
LEFT JOIN events p ON p.distinct_id = s.distinct_id AND p.event = 'Purchase'
                  AND p.time > s.time AND p.time <= s.time + INTERVAL 30 MINUTE
WHERE s.event = 'Search' AND s.time >= '2025-03-01'
GROUP BY s."$browser"
ORDER BY s."$browser"
