-- source: analyst, running total with SUM() OVER (ORDER BY day) over a daily aggregate
-- answers: daily and cumulative revenue over the whole period
-- dialect: shared
SELECT day, revenue, SUM(revenue) OVER (ORDER BY day) AS cumulative_revenue
FROM (SELECT CAST(time AS DATE) AS day, SUM(amount) AS revenue
      FROM events WHERE event = 'Purchase'
      GROUP BY CAST(time AS DATE)) daily
ORDER BY day
