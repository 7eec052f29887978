-- source: Metabase question builder, "Count by time: hour of day" (HOUR(); Metabase sends it backquoted, written here in the form both dialects take)
-- answers: the diurnal profile: events per hour of the day over the whole period
-- dialect: shared
SELECT HOUR(events.time) AS hour_of_day, COUNT(*) AS count
FROM events
GROUP BY HOUR(events.time)
ORDER BY HOUR(events.time) ASC
