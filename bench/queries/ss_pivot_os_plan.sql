-- source: Superset pivot table on a virtual dataset, rows $os, columns plan, metrics SUM(amount) and COUNT(*), row limit 10000
-- answers: purchases and revenue per operating system and plan
-- compare: unordered
SELECT `$os` AS `$os`, `plan` AS `plan`, SUM(amount) AS `SUM(amount)`, COUNT(*) AS count
FROM (SELECT `$os`, `plan`, amount FROM events WHERE event = 'Purchase') AS virtual_table
GROUP BY `$os`, `plan`
ORDER BY `SUM(amount)` DESC
LIMIT 10000
-- duckdb:
SELECT "$os", plan, SUM(amount) AS "SUM(amount)", COUNT(*) AS count
FROM (SELECT "$os", plan, amount FROM events WHERE event = 'Purchase') AS virtual_table
GROUP BY "$os", plan
ORDER BY "SUM(amount)" DESC
LIMIT 10000
