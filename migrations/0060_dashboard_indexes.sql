-- The staff dashboard's lists, each read through an index of its own: open critical
-- findings by due date, and the review queue oldest first.
CREATE INDEX findings_critical_open_idx ON findings (due_on, created_at, id)
    WHERE severity = 'critical' AND status IN ('open', 'remediating');
CREATE INDEX assessments_submitted_idx ON assessments (submitted_at, id) WHERE status = 'submitted';
