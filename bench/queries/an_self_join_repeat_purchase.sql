-- source: analyst, self-join of events on distinct_id with a time window: a purchase followed by another within 7 days
-- answers: how many users bought twice within a week, first purchase between 2025-03-01 and 2025-03-21
-- dialect: shared
SELECT COUNT(DISTINCT a.distinct_id) AS repeat_buyers, COUNT(*) AS purchase_pairs
FROM events a
JOIN events b ON b.distinct_id = a.distinct_id AND b.event = 'Purchase'
             AND b.time > a.time AND b.time <= a.time + INTERVAL 7 DAY
WHERE a.event = 'Purchase' AND a.time >= '2025-03-01' AND a.time < '2025-03-22'
