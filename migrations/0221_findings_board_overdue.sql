-- The findings board (/ui/findings?overdue=true) orders most severe first (findings_board_*
-- indexes, 0050); its overdue filter walked findings_board_idx and read every finding on
-- the way, resolved or not yet due, from the table (10k of them before the first page at
-- 100k partners, 4.5 ms). The items noted past due (0220), in the board's order, with the
-- due date to test in the index; the others come from findings_due_pending_idx as for
-- the newest-first list (vendor_risk.pagination.overdue_union).
CREATE INDEX findings_board_due_passed_idx
    ON findings (finding_severity_weight(severity) DESC, created_at DESC, id DESC, due_on)
    WHERE status IN ('open', 'remediating') AND due_passed;
