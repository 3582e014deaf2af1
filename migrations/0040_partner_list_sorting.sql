-- The staff partner list sorts by name, tier and next reassessment, each page found by
-- keyset through an index of its own (no OFFSET, no sort of 100k rows per request).

-- A tier's rank (low 0 … critical 3) and its reassessment cadence in months: the same
-- numbers as partners.rules.TIERS and DEFAULT_CADENCE_MONTHS (a test compares them).
CREATE FUNCTION tier_rank(tier text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE tier WHEN 'low' THEN 0 WHEN 'medium' THEN 1 WHEN 'high' THEN 2 WHEN 'critical' THEN 3 END;

CREATE FUNCTION tier_cadence_months(tier text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE tier WHEN 'low' THEN 36 WHEN 'medium' THEN 24 WHEN 'high' THEN 12 WHEN 'critical' THEN 6 END;

-- A partner that is never reassessed again (leaving or gone) sorts after every date; a
-- sentinel rather than NULL keeps the keyset comparison a plain row comparison.
CREATE FUNCTION reassessment_sort_key(due timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce(due, '9999-12-31 00:00:00+00'::timestamptz);

-- When the partner's next reassessment is due: at once when a trigger fired
-- (reassessment_due_at), else its tier's cadence after the last approved security
-- assessment (never assessed: after its creation), as the reassessment sweep counts it.
-- Kept by triggers, so every path that approves an assessment or changes a tier keeps it
-- true without knowing about the list.
ALTER TABLE partners
    ADD COLUMN last_approved_at timestamptz,
    ADD COLUMN next_reassessment_at timestamptz;

CREATE FUNCTION partners_next_reassessment() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_reassessment_at := CASE
        WHEN NEW.status IN ('offboarding', 'offboarded') THEN NULL
        ELSE least(NEW.reassessment_due_at,
                   coalesce(NEW.last_approved_at, NEW.created_at)
                       + make_interval(months => tier_cadence_months(NEW.tier)))
    END;
    RETURN NEW;
END;
$$;

CREATE TRIGGER partners_next_reassessment
    BEFORE INSERT OR UPDATE OF status, tier, reassessment_due_at, last_approved_at ON partners
    FOR EACH ROW EXECUTE FUNCTION partners_next_reassessment();

CREATE FUNCTION assessments_last_approved() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'approved' AND NEW.kind <> 'offboarding' AND NEW.reviewed_at IS NOT NULL THEN
        UPDATE partners SET last_approved_at = NEW.reviewed_at
        WHERE id = NEW.partner_id
          AND (last_approved_at IS NULL OR last_approved_at < NEW.reviewed_at);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER assessments_last_approved
    AFTER INSERT OR UPDATE OF status, reviewed_at ON assessments
    FOR EACH ROW EXECUTE FUNCTION assessments_last_approved();

UPDATE partners p SET last_approved_at = a.reviewed_at
FROM (SELECT partner_id, max(reviewed_at) AS reviewed_at FROM assessments
      WHERE status = 'approved' AND kind <> 'offboarding' GROUP BY partner_id) a
WHERE a.partner_id = p.id;
-- Partners without an approved assessment get their date from the trigger too.
UPDATE partners SET tier = tier WHERE last_approved_at IS NULL;

CREATE INDEX partners_name_idx ON partners (name, id);
CREATE INDEX partners_tier_rank_idx ON partners (tier_rank(tier) DESC, created_at DESC, id DESC);
CREATE INDEX partners_next_reassessment_idx
    ON partners (reassessment_sort_key(next_reassessment_at), id);
