-- The staff findings board sorts most severe first, then newest: one weight per severity
-- (critical 4 … low 1) so that every sort key runs the same direction and a keyset row
-- comparison walks an index. The function is immutable, so indexes can use it.
CREATE FUNCTION finding_severity_weight(severity text) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END $$;

-- The board with no filter, by status, and by owner (the filters that match many rows;
-- a partner's or an assessment's findings are few and use their own indexes).
CREATE INDEX findings_board_idx ON findings (finding_severity_weight(severity) DESC, created_at DESC, id DESC);
CREATE INDEX findings_board_status_idx
    ON findings (status, finding_severity_weight(severity) DESC, created_at DESC, id DESC);
CREATE INDEX findings_board_owner_idx
    ON findings (owner_id, finding_severity_weight(severity) DESC, created_at DESC, id DESC);
