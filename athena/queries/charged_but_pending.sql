-- Payments charged at Stripe but still pending in VaultLink (the critical scenario)
--
-- Answers: which payments had a Stripe webhook arrive whose payment-store update failed
-- (DynamoDB UpdateItem fault), with no later webhook that updated it: the customer was
-- charged and VaultLink still says pending.
-- For: compliance officers and chargeback investigators.
-- Parameters:
--   :since (date) first day, YYYY-MM-DD
--   :until (date) last day, YYYY-MM-DD
SELECT p.payment_id, MIN(p.start_time) AS first_failed_update, COUNT(DISTINCT p.trace_id) AS failed_webhooks
FROM spans p
JOIN spans d ON d.trace_id = p.trace_id AND d.dt = p.dt
WHERE p.dt BETWEEN :since AND :until
  AND d.dt BETWEEN :since AND :until
  AND p.payment_id IS NOT NULL
  AND d.aws_operation = 'UpdateItem'
  AND d.fault
  AND p.payment_id NOT IN (
    SELECT s.payment_id
    FROM spans s
    JOIN spans u ON u.trace_id = s.trace_id AND u.dt = s.dt
    WHERE s.dt BETWEEN :since AND :until
      AND u.dt BETWEEN :since AND :until
      AND s.payment_id IS NOT NULL
      AND u.aws_operation = 'UpdateItem'
      AND NOT u.fault
  )
GROUP BY p.payment_id
ORDER BY first_failed_update, p.payment_id
