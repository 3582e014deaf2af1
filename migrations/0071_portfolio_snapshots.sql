-- One row per day: the portfolio's figures as they stood at the end of that day, written by
-- the worker's snapshot_portfolio sweep (idempotent per day: today's row is refreshed, a
-- past day's is never overwritten). Month ends of the last year are back-filled from the
-- history the tables keep (`backfilled`); ratings have no history before 0070, so a
-- back-filled row has no `ratings`.
CREATE TABLE portfolio_snapshots (
    day date PRIMARY KEY,
    -- Partners registered by then and not offboarded (now).
    partners integer NOT NULL,
    -- Residual ratings of those partners: {"low": n, …, "unrated": n}.
    ratings jsonb,
    -- Mean of each partner's latest approved security assessment score by then.
    average_score double precision,
    -- Open findings (not resolved, no live acceptance) by severity, and those past due.
    open_findings jsonb NOT NULL,
    overdue_findings integer NOT NULL,
    -- Assessments past their due date and not submitted.
    overdue_assessments integer NOT NULL,
    -- Activity in the 30 days up to the day.
    assessments_sent integer NOT NULL,
    assessments_submitted integer NOT NULL,
    assessments_approved integer NOT NULL,
    backfilled boolean NOT NULL DEFAULT false,
    taken_at timestamptz NOT NULL DEFAULT now()
);
-- The back-fill and the snapshot count activity by these times.
CREATE INDEX assessments_submitted_at_idx ON assessments (submitted_at) WHERE submitted_at IS NOT NULL;
CREATE INDEX assessments_reviewed_at_idx ON assessments (reviewed_at) WHERE status = 'approved';
