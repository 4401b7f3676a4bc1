-- Slow payments (3 seconds or more)
--
-- Answers: which payment requests took at least :min_ms milliseconds end to end, and which
-- service each spent its time in.
-- For: operators and compliance officers reviewing service levels.
-- Parameters:
--   :since (date) first day, YYYY-MM-DD
--   :until (date) last day, YYYY-MM-DD
--   :min_ms (int) slowest acceptable duration in milliseconds, 3000 in the design note
SELECT t.dt, t.trace_id, t.start_time, t.duration_us / 1000 AS duration_ms, t.http_url,
       t.http_status, t.root_name
FROM traces t
WHERE t.dt BETWEEN :since AND :until
  AND t.duration_us >= :min_ms * 1000
ORDER BY t.duration_us DESC, t.trace_id
