-- Dashboard counters (issue #16): counts over all partners kept in the same transactions
-- as the changes, so the dashboard reads a few small rows instead of scanning 100k
-- partners, 35k requested scopes or 20k agreements. dashboard_repair_counters() rebuilds
-- them from the tables (the nightly sweep, and after any bulk load).

-- Partners by status and tier.
CREATE TABLE dashboard_partner_counts (
    status text NOT NULL,
    tier text NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (status, tier)
);

-- Named counts: scopes awaiting approval, open critical findings, reviews waiting.
CREATE TABLE dashboard_counts (
    name text PRIMARY KEY,
    n bigint NOT NULL DEFAULT 0
);

-- Agreements that no live agreement of the same partner and kind outlives, grouped by
-- (partner, kind): a group is due at horizon H when its last expiry (its "horizon") is on
-- or before H (an open-ended agreement means never), and then every live agreement in it
-- is listed. Stored per group so that a refresh subtracts exactly what it added.
CREATE TABLE dashboard_agreement_groups (
    partner_id uuid NOT NULL REFERENCES partners (id),
    kind text NOT NULL,
    horizon date NOT NULL,
    expiries date[] NOT NULL,
    PRIMARY KEY (partner_id, kind)
);
-- Partners with an agreement due by a horizon (the attention count).
CREATE INDEX dashboard_agreement_groups_horizon_idx ON dashboard_agreement_groups (horizon, partner_id);
-- The same, summed: live not-renewed agreements by (group horizon, own expiry).
CREATE TABLE dashboard_agreement_days (
    horizon date NOT NULL,
    expires_on date NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (horizon, expires_on)
);

-- Partners needing attention (NEEDS_ATTENTION_SQL), each with the first day it does:
-- -infinity when due for reassessment, else the earliest of its due agreement groups'
-- horizons and its approved scopes' ends; so the count at horizon H is a sum over days.
CREATE TABLE dashboard_partner_attention (
    partner_id uuid PRIMARY KEY REFERENCES partners (id),
    horizon date NOT NULL
);
CREATE TABLE dashboard_attention_days (
    horizon date PRIMARY KEY,
    n bigint NOT NULL DEFAULT 0
);
-- The attention list walks partners most critical tier first and stops at the page.
CREATE INDEX partners_tier_rank_name_idx ON partners (tier_rank(tier) DESC, name, id);

CREATE FUNCTION dashboard_attention_horizon(p uuid) RETURNS date LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN pa.reassessment_due_at IS NOT NULL THEN '-infinity'::date
                ELSE least((SELECT min(g.horizon) FROM dashboard_agreement_groups g WHERE g.partner_id = p),
                           (SELECT min(s.ends_on) FROM scopes s WHERE s.partner_id = p AND s.status = 'approved'))
           END
    FROM partners pa WHERE pa.id = p AND pa.status NOT IN ('offboarding', 'offboarded')
$$;

CREATE FUNCTION dashboard_refresh_partner_attention(p uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    old_horizon date;
    new_horizon date;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p::text, 126));
    DELETE FROM dashboard_partner_attention WHERE partner_id = p RETURNING horizon INTO old_horizon;
    IF old_horizon IS NOT NULL THEN
        UPDATE dashboard_attention_days SET n = n - 1 WHERE horizon = old_horizon;
    END IF;
    new_horizon := dashboard_attention_horizon(p);
    IF new_horizon IS NOT NULL THEN
        INSERT INTO dashboard_partner_attention VALUES (p, new_horizon);
        INSERT INTO dashboard_attention_days VALUES (new_horizon, 1)
        ON CONFLICT (horizon) DO UPDATE SET n = dashboard_attention_days.n + 1;
    END IF;
END $$;

CREATE FUNCTION dashboard_bump(counter text, delta int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dashboard_counts (name, n) VALUES (counter, delta)
    ON CONFLICT (name) DO UPDATE SET n = dashboard_counts.n + excluded.n
$$;

CREATE FUNCTION dashboard_partners_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE dashboard_partner_counts SET n = n - 1 WHERE status = OLD.status AND tier = OLD.tier;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO dashboard_partner_counts (status, tier, n) VALUES (NEW.status, NEW.tier, 1)
        ON CONFLICT (status, tier) DO UPDATE SET n = dashboard_partner_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dashboard_partners_count AFTER INSERT OR DELETE OR UPDATE OF status, tier ON partners
    FOR EACH ROW EXECUTE FUNCTION dashboard_partners_count();

-- Whether a row (as jsonb) counts towards the named counter.
CREATE FUNCTION dashboard_row_counted(counter text, r jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE counter
        WHEN 'scopes_requested' THEN r->>'status' = 'requested'
        WHEN 'findings_critical_open' THEN r->>'severity' = 'critical' AND r->>'status' IN ('open', 'remediating', 'verifying')
        WHEN 'assessments_submitted' THEN r->>'status' = 'submitted'
    END
$$;

CREATE FUNCTION dashboard_rows_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP IN ('UPDATE', 'DELETE') AND dashboard_row_counted(TG_ARGV[0], to_jsonb(OLD));
    is_now boolean := TG_OP IN ('INSERT', 'UPDATE') AND dashboard_row_counted(TG_ARGV[0], to_jsonb(NEW));
BEGIN
    IF was IS DISTINCT FROM is_now THEN
        PERFORM dashboard_bump(TG_ARGV[0], CASE WHEN is_now THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dashboard_scopes_count AFTER INSERT OR DELETE OR UPDATE OF status ON scopes
    FOR EACH ROW EXECUTE FUNCTION dashboard_rows_count('scopes_requested');
CREATE TRIGGER dashboard_findings_count AFTER INSERT OR DELETE OR UPDATE OF severity, status ON findings
    FOR EACH ROW EXECUTE FUNCTION dashboard_rows_count('findings_critical_open');
CREATE TRIGGER dashboard_assessments_count AFTER INSERT OR DELETE OR UPDATE OF status ON assessments
    FOR EACH ROW EXECUTE FUNCTION dashboard_rows_count('assessments_submitted');

-- Recompute one (partner, kind) group from the tables: take back what it added, add what
-- it holds now. The group row is locked first, so concurrent refreshes of a group queue.
CREATE FUNCTION dashboard_refresh_agreement_group(p uuid, k text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    old_group dashboard_agreement_groups;
    new_horizon date;
    new_expiries date[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p::text || k, 125));
    SELECT * INTO old_group FROM dashboard_agreement_groups WHERE partner_id = p AND kind = k;
    IF FOUND THEN
        UPDATE dashboard_agreement_days d SET n = d.n - e.n
        FROM (SELECT x AS expires_on, count(*) AS n FROM unnest(old_group.expiries) x GROUP BY x) e
        WHERE d.horizon = old_group.horizon AND d.expires_on = e.expires_on;
        DELETE FROM dashboard_agreement_groups WHERE partner_id = p AND kind = k;
    END IF;
    SELECT max(a.expires_on), array_agg(a.expires_on ORDER BY a.expires_on)
    INTO new_horizon, new_expiries
    FROM agreements a JOIN partners pa ON pa.id = a.partner_id
    WHERE a.partner_id = p AND a.kind = k AND a.terminated_at IS NULL
      AND pa.status NOT IN ('offboarding', 'offboarded')
    HAVING bool_and(a.expires_on IS NOT NULL);
    IF new_horizon IS NOT NULL THEN
        INSERT INTO dashboard_agreement_groups VALUES (p, k, new_horizon, new_expiries);
        INSERT INTO dashboard_agreement_days (horizon, expires_on, n)
        SELECT new_horizon, x, count(*) FROM unnest(new_expiries) x GROUP BY x
        ON CONFLICT (horizon, expires_on) DO UPDATE SET n = dashboard_agreement_days.n + excluded.n;
    END IF;
    PERFORM dashboard_refresh_partner_attention(p);
END $$;

CREATE FUNCTION dashboard_agreements_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM dashboard_refresh_agreement_group(OLD.partner_id, OLD.kind);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.partner_id, NEW.kind) IS DISTINCT FROM (OLD.partner_id, OLD.kind)) THEN
        PERFORM dashboard_refresh_agreement_group(NEW.partner_id, NEW.kind);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dashboard_agreements_count
    AFTER INSERT OR DELETE OR UPDATE OF partner_id, kind, expires_on, terminated_at ON agreements
    FOR EACH ROW EXECUTE FUNCTION dashboard_agreements_count();

-- A partner entering or leaving offboarding takes its agreements off or back on the board.
CREATE FUNCTION dashboard_partner_agreements() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    IF (OLD.status IN ('offboarding', 'offboarded')) <> (NEW.status IN ('offboarding', 'offboarded')) THEN
        FOR k IN SELECT DISTINCT kind FROM agreements WHERE partner_id = NEW.id LOOP
            PERFORM dashboard_refresh_agreement_group(NEW.id, k);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dashboard_partner_agreements AFTER UPDATE OF status ON partners
    FOR EACH ROW EXECUTE FUNCTION dashboard_partner_agreements();

CREATE FUNCTION dashboard_partner_attention_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'partners' THEN
        PERFORM dashboard_refresh_partner_attention(NEW.id);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM dashboard_refresh_partner_attention(OLD.partner_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.partner_id <> OLD.partner_id) THEN
        PERFORM dashboard_refresh_partner_attention(NEW.partner_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dashboard_partner_attention AFTER INSERT OR UPDATE OF status, reassessment_due_at ON partners
    FOR EACH ROW EXECUTE FUNCTION dashboard_partner_attention_changed();
CREATE TRIGGER dashboard_scope_attention AFTER INSERT OR DELETE OR UPDATE OF partner_id, status, ends_on ON scopes
    FOR EACH ROW EXECUTE FUNCTION dashboard_partner_attention_changed();

-- Rebuild every counter from the tables; returns how many counter rows it had to change.
CREATE FUNCTION dashboard_repair_counters() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    fixed bigint := 0;
    changed bigint;
BEGIN
    LOCK dashboard_partner_counts, dashboard_counts, dashboard_agreement_groups,
         dashboard_agreement_days, dashboard_partner_attention, dashboard_attention_days
        IN EXCLUSIVE MODE;

    WITH fresh AS (SELECT status, tier, count(*) AS n FROM partners GROUP BY status, tier),
    merged AS (
        SELECT coalesce(f.status, c.status) AS status, coalesce(f.tier, c.tier) AS tier,
               coalesce(f.n, 0) AS n
        FROM fresh f FULL JOIN dashboard_partner_counts c USING (status, tier)
        WHERE c.n IS DISTINCT FROM f.n AND NOT (f.n IS NULL AND c.n = 0)
    )
    INSERT INTO dashboard_partner_counts SELECT * FROM merged
    ON CONFLICT (status, tier) DO UPDATE SET n = excluded.n;
    GET DIAGNOSTICS changed = ROW_COUNT;
    fixed := fixed + changed;

    WITH fresh(name, n) AS (VALUES
        ('scopes_requested', (SELECT count(*) FROM scopes WHERE status = 'requested')),
        ('findings_critical_open', (SELECT count(*) FROM findings
                                    WHERE severity = 'critical' AND status IN ('open', 'remediating', 'verifying'))),
        ('assessments_submitted', (SELECT count(*) FROM assessments WHERE status = 'submitted')))
    INSERT INTO dashboard_counts SELECT f.name, f.n FROM fresh f
    LEFT JOIN dashboard_counts c USING (name) WHERE c.n IS DISTINCT FROM f.n
    ON CONFLICT (name) DO UPDATE SET n = excluded.n;
    GET DIAGNOSTICS changed = ROW_COUNT;
    fixed := fixed + changed;

    CREATE TEMP TABLE fresh_groups ON COMMIT DROP AS
        SELECT a.partner_id, a.kind, max(a.expires_on) AS horizon,
               array_agg(a.expires_on ORDER BY a.expires_on) AS expiries
        FROM agreements a JOIN partners p ON p.id = a.partner_id
        WHERE a.terminated_at IS NULL AND p.status NOT IN ('offboarding', 'offboarded')
        GROUP BY a.partner_id, a.kind
        HAVING bool_and(a.expires_on IS NOT NULL);
    SELECT count(*) INTO changed FROM (
        (SELECT * FROM fresh_groups EXCEPT ALL SELECT * FROM dashboard_agreement_groups)
        UNION ALL
        (SELECT * FROM dashboard_agreement_groups EXCEPT ALL SELECT * FROM fresh_groups)) d;
    IF changed > 0 THEN
        fixed := fixed + changed;
        DELETE FROM dashboard_agreement_groups;
        INSERT INTO dashboard_agreement_groups SELECT * FROM fresh_groups;
        DELETE FROM dashboard_agreement_days;
        INSERT INTO dashboard_agreement_days (horizon, expires_on, n)
        SELECT g.horizon, x, count(*) FROM fresh_groups g, unnest(g.expiries) x GROUP BY g.horizon, x;
    END IF;

    -- As dashboard_attention_horizon, for every partner at once.
    CREATE TEMP TABLE fresh_attention ON COMMIT DROP AS
        SELECT p.id AS partner_id,
               CASE WHEN p.reassessment_due_at IS NOT NULL THEN '-infinity'::date
                    ELSE least(g.horizon, s.horizon) END AS horizon
        FROM partners p
        LEFT JOIN (SELECT partner_id, min(horizon) AS horizon FROM fresh_groups GROUP BY partner_id) g
            ON g.partner_id = p.id
        LEFT JOIN (SELECT partner_id, min(ends_on) AS horizon FROM scopes
                   WHERE status = 'approved' GROUP BY partner_id) s ON s.partner_id = p.id
        WHERE p.status NOT IN ('offboarding', 'offboarded')
          AND (p.reassessment_due_at IS NOT NULL OR g.horizon IS NOT NULL OR s.horizon IS NOT NULL);
    DROP TABLE fresh_groups;
    SELECT count(*) INTO changed FROM (
        (SELECT * FROM fresh_attention EXCEPT ALL SELECT * FROM dashboard_partner_attention)
        UNION ALL
        (SELECT * FROM dashboard_partner_attention EXCEPT ALL SELECT * FROM fresh_attention)) d;
    IF changed > 0 THEN
        fixed := fixed + changed;
        DELETE FROM dashboard_partner_attention;
        INSERT INTO dashboard_partner_attention SELECT * FROM fresh_attention;
        DELETE FROM dashboard_attention_days;
        INSERT INTO dashboard_attention_days SELECT horizon, count(*) FROM fresh_attention GROUP BY horizon;
    END IF;
    DROP TABLE fresh_attention;
    RETURN fixed;
END $$;

SELECT dashboard_repair_counters();
