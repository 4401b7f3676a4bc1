-- Failed payment webhooks from Stripe
--
-- Answers: which Stripe webhook deliveries did VaultLink fail to process (a fault or an HTTP
-- 5xx answer), for which payments, and where each one first failed.
-- For: chargeback investigators and the on-call engineer.
-- Parameters:
--   :since (date) first day, YYYY-MM-DD
--   :until (date) last day, YYYY-MM-DD
SELECT DISTINCT t.dt, t.trace_id, t.start_time, t.http_status, t.first_failure,
       s.payment_id, s.correlation_id
FROM traces t
JOIN spans s ON s.trace_id = t.trace_id AND s.dt = t.dt
WHERE t.dt BETWEEN :since AND :until
  AND t.http_url LIKE '%/webhooks/stripe'
  AND (t.fault OR t.http_status >= 500)
  AND s.payment_id IS NOT NULL
ORDER BY t.start_time, t.trace_id
