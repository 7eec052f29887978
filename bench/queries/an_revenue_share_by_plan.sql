-- source: analyst, revenue share by plan: a grouped derived table joined with a one-row total (CROSS JOIN of a scalar aggregate)
-- answers: each plan's revenue and share of all revenue
SELECT p.`plan`, p.revenue, ROUND(100 * p.revenue / t.total, 3) AS pct
FROM (SELECT `plan`, SUM(amount) AS revenue FROM events WHERE event = 'Purchase' GROUP BY `plan`) p
CROSS JOIN (SELECT SUM(amount) AS total FROM events WHERE event = 'Purchase') t
ORDER BY p.`plan`
-- duckdb:
SELECT p.plan, p.revenue, ROUND(100 * p.revenue / t.total, 3) AS pct
FROM (SELECT plan, SUM(amount) AS revenue FROM events WHERE event = 'Purchase' GROUP BY plan) p
CROSS JOIN (SELECT SUM(amount) AS total FROM events WHERE event = 'Purchase') t
ORDER BY p.plan
