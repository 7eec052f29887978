-- source: analyst, plain-SQL 2-step funnel: signups of February LEFT JOIN their purchases within 14 days
-- answers: how many February signups bought within 14 days
-- dialect: shared
SELECT COUNT(DISTINCT s.distinct_id) AS signed_up, COUNT(DISTINCT p.distinct_id) AS purchased_within_14_days
FROM events s
LEFT JOIN events p ON p.distinct_id = s.distinct_id AND p.event = 'Purchase'
                  AND p.time > s.time AND p.time <= s.time + INTERVAL 14 DAY
WHERE s.event = 'Signup' AND s.time >= '2025-02-01' AND s.time < '2025-03-01'
