-- Trace a specific payment
--
-- Answers: every span of every trace that carries this PaymentId, in time order: the whole
-- story of one payment. (`xray-archive lookup` does the same through payment_index without
-- a date range.)
-- For: chargeback investigators.
-- Parameters:
--   :payment_id (text) the PaymentId annotation, such as pay_000000000042
--   :since (date) first day to search, YYYY-MM-DD
--   :until (date) last day to search, YYYY-MM-DD
SELECT s.dt, s.trace_id, s.start_time, s.name, s.depth, s.duration_us, s.http_status,
       s.error, s.fault, s.exception_message
FROM spans s
WHERE s.dt BETWEEN :since AND :until
  AND s.trace_id IN (
    SELECT p.trace_id FROM spans p
    WHERE p.dt BETWEEN :since AND :until AND p.payment_id = :payment_id
  )
ORDER BY s.start_us, s.trace_id, s.id
