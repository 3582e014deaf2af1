-- The evidence quota counts every file an assessment's link uploaded, removed ones too
-- (their documents are kept for the audit trail, so they take space all the same).
CREATE INDEX assessment_evidence_quota_idx ON assessment_evidence (assessment_id);
