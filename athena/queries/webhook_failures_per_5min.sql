-- Webhook failures per 5-minute bin
--
-- Answers: how many Stripe webhook deliveries failed in each 5-minute bin, to tell an
-- outage from a trickle (the Logs Insights `stats count() by bin(5m)` of the design note).
-- For: operators and incident reviews.
-- Parameters:
--   :since (date) first day, YYYY-MM-DD
--   :until (date) last day, YYYY-MM-DD
SELECT (t.start_us / 300000000) * 300 AS bin_start_epoch_s,
       COUNT(*) AS failures,
       MIN(t.start_time) AS first_failure_at
FROM traces t
WHERE t.dt BETWEEN :since AND :until
  AND t.http_url LIKE '%/webhooks/stripe'
  AND (t.fault OR t.http_status >= 500)
GROUP BY (t.start_us / 300000000) * 300
ORDER BY bin_start_epoch_s
