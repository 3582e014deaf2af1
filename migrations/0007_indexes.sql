-- Indexes found missing by bench/bench_lists.py at 100k partners (1M findings, 1M audit
-- events): each serves a list filter or a sweep that otherwise walked or scanned rows it
-- then threw away.

-- GET /api/v1/findings?overdue=true: open or remediating findings past their due date,
-- newest first. due_on is a key column so that the scan skips findings not yet due
-- inside the index (50 ms to 2 ms).
CREATE INDEX findings_overdue_idx ON findings (created_at DESC, id DESC, due_on)
    WHERE status IN ('open', 'remediating');

-- GET /api/v1/assessments?overdue=true, the same way (25 ms to 2 ms).
CREATE INDEX assessments_overdue_idx ON assessments (sent_at DESC, id DESC, due_on)
    WHERE status IN ('sent', 'in_progress', 'changes_requested');

-- GET /api/v1/audit-events?entity_type=…: a rare type (webhook, user) was found by walking
-- the whole trail backwards (5 ms at 1M events, growing with the trail; now 0.3 ms).
CREATE INDEX audit_events_type_idx ON audit_events (entity_type, seq);

-- The daily sweep expires approved and suspended scopes past their end; the index covered
-- approved ones only, so the sweep read every scope. The attention queries, which look at
-- approved scopes only, use this one as well.
CREATE INDEX scopes_ending_idx ON scopes (ends_on) WHERE status IN ('approved', 'suspended');
DROP INDEX scopes_end_idx;
