-- Every payment touched by a correlation id
--
-- Answers: which payments, traces and services one CorrelationId went through: a request
-- followed across the API, the webhook, the queue and Prism.
-- For: chargeback investigators and support.
-- Parameters:
--   :correlation_id (text) the CorrelationId annotation
--   :since (date) first day to search, YYYY-MM-DD
--   :until (date) last day to search, YYYY-MM-DD
SELECT s.payment_id, s.trace_id, s.dt, MIN(s.start_time) AS first_seen,
       COUNT(*) AS spans
FROM spans s
WHERE s.dt BETWEEN :since AND :until
  AND s.correlation_id = :correlation_id
GROUP BY s.payment_id, s.trace_id, s.dt
ORDER BY first_seen, s.trace_id
