-- source: analyst, churned paying users by plan: January buyers (Purchase) with no event in March, NOT EXISTS, broken out by plan
-- answers: January buyers per plan, and how many of them were gone in March
SELECT b.`plan`, COUNT(DISTINCT b.distinct_id) AS january_buyers,
       COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM events m
                                            WHERE m.distinct_id = b.distinct_id AND m.time >= '2025-03-01')
                           THEN b.distinct_id END) AS gone_in_march
FROM events b
WHERE b.event = 'Purchase' AND b.time >= '2025-01-01' AND b.time < '2025-02-01'
GROUP BY b.`plan`
ORDER BY b.`plan`
-- duckdb:
SELECT b.plan, COUNT(DISTINCT b.distinct_id) AS january_buyers,
       COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM events m
                                            WHERE m.distinct_id = b.distinct_id AND m.time >= '2025-03-01')
                           THEN b.distinct_id END) AS gone_in_march
FROM events b
WHERE b.event = 'Purchase' AND b.time >= '2025-01-01' AND b.time < '2025-02-01'
GROUP BY b.plan
ORDER BY b.plan
