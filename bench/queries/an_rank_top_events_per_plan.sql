-- source: analyst, top 3 events per plan with RANK() OVER (PARTITION BY plan ORDER BY count DESC) over a grouped derived table
-- answers: the three most frequent events of each plan (Signup excluded)
SELECT `plan`, event, n, rnk
FROM (SELECT `plan`, event, COUNT(*) AS n,
             RANK() OVER (PARTITION BY `plan` ORDER BY COUNT(*) DESC) AS rnk
      FROM events WHERE event <> 'Signup'
      GROUP BY `plan`, event) ranked
WHERE rnk <= 3
ORDER BY `plan`, rnk, event
-- duckdb:
SELECT plan, event, n, rnk
FROM (SELECT plan, event, COUNT(*) AS n,
             RANK() OVER (PARTITION BY plan ORDER BY COUNT(*) DESC) AS rnk
      FROM events WHERE event <> 'Signup'
      GROUP BY plan, event) ranked
WHERE rnk <= 3
ORDER BY plan, rnk, event
