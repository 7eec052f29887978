-- source: analyst, plain-SQL 5-step funnel as nested derived tables, each level a LEFT JOIN events with a time window and MIN() of the next step
-- answers: Signup → Page View → Search → View Item → Add To Cart within 14 days, signups of 2025-02-01 .. 2025-02-14
-- dialect: shared
SELECT COUNT(*) AS step1, COUNT(t2) AS step2, COUNT(t3) AS step3, COUNT(t4) AS step4, COUNT(t5) AS step5
FROM (
  SELECT s4.distinct_id, s4.t1, s4.t2, s4.t3, s4.t4, MIN(e.time) AS t5
  FROM (
    SELECT s3.distinct_id, s3.t1, s3.t2, s3.t3, MIN(e.time) AS t4
    FROM (
      SELECT s2.distinct_id, s2.t1, s2.t2, MIN(e.time) AS t3
      FROM (
        SELECT s1.distinct_id, s1.t1, MIN(e.time) AS t2
        FROM (SELECT distinct_id, time AS t1 FROM events
              WHERE event = 'Signup' AND time >= '2025-02-01' AND time < '2025-02-15') s1
        LEFT JOIN events e ON e.distinct_id = s1.distinct_id AND e.event = 'Page View'
                          AND e.time > s1.t1 AND e.time <= s1.t1 + INTERVAL 14 DAY
        GROUP BY s1.distinct_id, s1.t1
      ) s2
      LEFT JOIN events e ON e.distinct_id = s2.distinct_id AND e.event = 'Search'
                        AND e.time > s2.t2 AND e.time <= s2.t1 + INTERVAL 14 DAY
      GROUP BY s2.distinct_id, s2.t1, s2.t2
    ) s3
    LEFT JOIN events e ON e.distinct_id = s3.distinct_id AND e.event = 'View Item'
                      AND e.time > s3.t3 AND e.time <= s3.t1 + INTERVAL 14 DAY
    GROUP BY s3.distinct_id, s3.t1, s3.t2, s3.t3
  ) s4
  LEFT JOIN events e ON e.distinct_id = s4.distinct_id AND e.event = 'Add To Cart'
                    AND e.time > s4.t4 AND e.time <= s4.t1 + INTERVAL 14 DAY
  GROUP BY s4.distinct_id, s4.t1, s4.t2, s4.t3, s4.t4
) f
