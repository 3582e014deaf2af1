-- GET /api/v1/findings?overdue=true and /assessments?overdue=true (issue #16). The partial
-- indexes of 0007 hold every open item newest first, and the list walked past the open
-- items not yet due before its first overdue one: all those raised in the last due period
-- (32k findings at 100k partners, 3k at 10k), so the list grew with the volume.
--
-- `due_passed` notes that an open item's due date had passed when last looked at: set here
-- for what is overdue now, by the daily reminder sweep for what falls due since, and
-- cleared whenever the due date changes. It only says which of two indexes holds the item;
-- the lists still test `due_on < today` (the caller's today), so an item whose note lags
-- is found through the other index, never missed or wrongly shown:
--   * *_due_passed_idx: those noted, newest first. Walked like 0007's, it skips only noted
--     items whose due date has not passed for the caller (a today before the sweep's).
--   * *_due_pending_idx: the others' due dates. Their overdue ones are those fallen due
--     since the last sweep (or given a past due date since): a short range, then sorted.
--     The index is on an expression, with statistics of its own (a partial index's are
--     not used), as nothing else tells the planner that the open items not noted are
--     nearly all due later: it would guess four in five are overdue and walk the list.
--     vendor_risk.pagination.overdue_union repeats the expression.
-- 0007's indexes stay: the sweeps read every overdue item from them (index-only, by due date).
ALTER TABLE findings ADD COLUMN due_passed boolean NOT NULL DEFAULT false;
ALTER TABLE assessments ADD COLUMN due_passed boolean NOT NULL DEFAULT false;

UPDATE findings SET due_passed = true
WHERE status IN ('open', 'remediating') AND due_on < current_date;
UPDATE assessments SET due_passed = true
WHERE status IN ('sent', 'in_progress', 'changes_requested') AND due_on < current_date;

CREATE FUNCTION due_date_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.due_passed := false;
    RETURN NEW;
END;
$$;
CREATE TRIGGER findings_due_date_changed BEFORE UPDATE OF due_on ON findings
    FOR EACH ROW WHEN (OLD.due_on IS DISTINCT FROM NEW.due_on) EXECUTE FUNCTION due_date_changed();
CREATE TRIGGER assessments_due_date_changed BEFORE UPDATE OF due_on ON assessments
    FOR EACH ROW WHEN (OLD.due_on IS DISTINCT FROM NEW.due_on) EXECUTE FUNCTION due_date_changed();

CREATE INDEX findings_due_passed_idx ON findings (created_at DESC, id DESC, due_on)
    WHERE status IN ('open', 'remediating') AND due_passed;
CREATE INDEX findings_due_pending_idx
    ON findings ((CASE WHEN status IN ('open', 'remediating') AND NOT due_passed THEN due_on END))
    WHERE status IN ('open', 'remediating') AND NOT due_passed;
CREATE STATISTICS findings_due_pending_stats
    ON (CASE WHEN status IN ('open', 'remediating') AND NOT due_passed THEN due_on END) FROM findings;

CREATE INDEX assessments_due_passed_idx ON assessments (sent_at DESC, id DESC, due_on)
    WHERE status IN ('sent', 'in_progress', 'changes_requested') AND due_passed;
CREATE INDEX assessments_due_pending_idx
    ON assessments ((CASE WHEN status IN ('sent', 'in_progress', 'changes_requested') AND NOT due_passed
                          THEN due_on END))
    WHERE status IN ('sent', 'in_progress', 'changes_requested') AND NOT due_passed;
CREATE STATISTICS assessments_due_pending_stats
    ON (CASE WHEN status IN ('sent', 'in_progress', 'changes_requested') AND NOT due_passed
             THEN due_on END) FROM assessments;

ANALYZE findings;
ANALYZE assessments;
