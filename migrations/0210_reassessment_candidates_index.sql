-- The hourly reassessment sweep reads every active partner's tier and dates to find those
-- due (vendor_risk.sweeps.reassessments_due). From the heap that is the whole partners
-- table, ~1.7 kB a row with the search grams and ratings (170 MB at 100k partners, mostly
-- not in shared buffers); from this index it is an index-only scan of a few MB (issue #16).
CREATE INDEX partners_reassessment_candidates_idx ON partners (id)
    INCLUDE (tier, created_at, last_approved_at, reassessment_due_at, reassessment_blocked,
             reassessment_blocked_policy)
    WHERE status = 'active';
