-- source: analyst, first-touch attribution: each user's first event by ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time), joined with per-user revenue
-- answers: users, paying users and revenue per first-touch utm_source
-- dialect: shared
SELECT f.utm_source, COUNT(*) AS users, COUNT(r.distinct_id) AS paying_users, COALESCE(SUM(r.revenue), 0) AS total_revenue
FROM (SELECT distinct_id, utm_source
      FROM (SELECT distinct_id, utm_source, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn
            FROM events) ranked
      WHERE rn = 1) f
LEFT JOIN (SELECT distinct_id, SUM(amount) AS revenue FROM events WHERE event = 'Purchase' GROUP BY distinct_id) r
       ON r.distinct_id = f.distinct_id
GROUP BY f.utm_source
ORDER BY f.utm_source
