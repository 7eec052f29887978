-- source: analyst, activity buckets with CASE over per-user counts, whole period
-- answers: users per activity bucket (1, 2-5, 6-20, 21-100, 100+ events)
-- dialect: shared
SELECT CASE WHEN n = 1 THEN '1'
            WHEN n <= 5 THEN '2-5'
            WHEN n <= 20 THEN '6-20'
            WHEN n <= 100 THEN '21-100'
            ELSE '100+' END AS bucket,
       COUNT(*) AS users, SUM(n) AS events
FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) per_user
GROUP BY bucket
ORDER BY bucket
