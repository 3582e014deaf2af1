-- The days an agreement gives the partner to return or destroy the firm's data when the
-- relationship ends: the offboarding attestation is due that many days after offboarding
-- starts (the longest among the agreements in force; 30 days when none says).
ALTER TABLE agreements ADD COLUMN notice_period_days integer
    CHECK (notice_period_days IS NULL OR notice_period_days BETWEEN 1 AND 365);
