-- Error rate per service per day
--
-- Answers: for each service (segment name) and day, how many segments ran and what share
-- ended in an error or a fault. Segments, not subsegments, by `type`: an OpenTelemetry span
-- or an independently sent subsegment is a document of its own, at depth 0.
-- For: compliance officers (availability evidence) and operators.
-- Parameters:
--   :since (date) first day, YYYY-MM-DD
--   :until (date) last day, YYYY-MM-DD
SELECT s.dt, s.name AS service,
       COUNT(*) AS segments,
       SUM(CASE WHEN s.error OR s.fault THEN 1 ELSE 0 END) AS failed,
       ROUND(100.0 * SUM(CASE WHEN s.error OR s.fault THEN 1 ELSE 0 END) / COUNT(*), 2) AS failed_pct
FROM spans s
WHERE s.dt BETWEEN :since AND :until
  AND s.type = 'segment'
GROUP BY s.dt, s.name
ORDER BY s.dt, s.name
