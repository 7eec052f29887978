-- source: analyst, stickiness: the average DAU of a month over its MAU, two derived tables joined on the month
-- answers: DAU/MAU per month
SELECT d.month, d.avg_dau, m.mau, d.avg_dau / m.mau AS stickiness
FROM (SELECT month, AVG(dau) AS avg_dau
      FROM (SELECT DATE_FORMAT(time, '%Y-%m') AS month, DATE(time) AS day, COUNT(DISTINCT distinct_id) AS dau
            FROM events GROUP BY DATE_FORMAT(time, '%Y-%m'), DATE(time)) daily
      GROUP BY month) d
JOIN (SELECT DATE_FORMAT(time, '%Y-%m') AS month, COUNT(DISTINCT distinct_id) AS mau
      FROM events GROUP BY DATE_FORMAT(time, '%Y-%m')) m ON m.month = d.month
ORDER BY d.month
-- duckdb:
SELECT d.month, d.avg_dau, m.mau, d.avg_dau / m.mau AS stickiness
FROM (SELECT month, AVG(dau) AS avg_dau
      FROM (SELECT strftime(time, '%Y-%m') AS month, CAST(time AS DATE) AS day, COUNT(DISTINCT distinct_id) AS dau
            FROM events GROUP BY strftime(time, '%Y-%m'), CAST(time AS DATE)) daily
      GROUP BY month) d
JOIN (SELECT strftime(time, '%Y-%m') AS month, COUNT(DISTINCT distinct_id) AS mau
      FROM events GROUP BY strftime(time, '%Y-%m')) m ON m.month = d.month
ORDER BY d.month
