-- Prism deliveries that ended in the dead-letter queue
--
-- Answers: which payments' Prism notifications failed on their last allowed attempt, so
-- SQS moved the message to the DLQ: the delivery span failed with an ApproximateReceiveCount
-- annotation at or above the queue's maxReceiveCount.
-- For: operators replaying the DLQ, and investigators asking "was Prism told?".
-- Parameters:
--   :since (date) first day, YYYY-MM-DD
--   :until (date) last day, YYYY-MM-DD
--   :max_receives (int) the Prism queue's maxReceiveCount
SELECT s.dt, s.trace_id, s.start_time, s.payment_id, s.correlation_id,
       s.annotations['ApproximateReceiveCount'] AS receive_count, s.exception_message
FROM spans s
WHERE s.dt BETWEEN :since AND :until
  AND s.name = 'DeliverToPrism'
  AND (s.fault OR s.error)
  AND CAST(s.annotations['ApproximateReceiveCount'] AS INTEGER) >= :max_receives
ORDER BY s.start_time, s.trace_id
