-- The partner list's next_reassessment_at (0040) counted the cadences as constants; they are
-- the policy's (policy.yaml `cadence_months`). The service writes the policy's cadences here
-- when it starts with a new policy (vendor_risk.policy.record_policy_in_use) and refreshes
-- next_reassessment_at when they changed; the trigger reads them from here.
CREATE TABLE policy_cadences (
    tier text PRIMARY KEY CHECK (tier IN ('low', 'medium', 'high', 'critical')),
    months integer NOT NULL CHECK (months >= 1)
);
INSERT INTO policy_cadences (tier, months) VALUES ('low', 36), ('medium', 24), ('high', 12), ('critical', 6);

CREATE OR REPLACE FUNCTION tier_cadence_months(tier text) RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT c.months FROM policy_cadences c WHERE c.tier = tier_cadence_months.tier);
