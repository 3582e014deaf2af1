-- The dashboard's counters (0125, 0190) were kept by row-level triggers: importing 10,000
-- partners with their NDAs refreshed 10,000 agreement groups and 20,000 attention rows one
-- at a time, eight statements each (2.8 of the 4.4 s the bare COPY of those rows took on an
-- empty database, more at 100k partners). The refreshes now take a set of partners or
-- groups, and INSERT and DELETE fire them once per statement with the rows from its
-- transition table. They compute what 0190's dashboard_refresh_agreement_group and
-- dashboard_refresh_partner_attention compute, for many keys at once; those stay for UPDATE
-- (an UPDATE OF a column list cannot have transition tables) and for a statement of a few
-- rows, where planning the set statements costs more than it saves (0.3 ms a row).
-- tests/integration/partners/test_dashboard_counters.py holds both to a fresh count.
--
-- Locking is as in 0190: a refresh first makes sure each counter row it will change exists
-- (a placeholder with the horizon 'infinity') and locks them all, in key order, so two
-- refreshes of one partner queue and two bulk refreshes cannot deadlock; row locks take no
-- entry in the shared lock table, whatever the number of rows.

-- Each given partner's first day of needing attention (dashboard_attention_horizon of 0125
-- for a set), or no row when it never does. The horizon reads the agreement groups as they are, so a refresh of groups updates
-- them before it asks.
CREATE FUNCTION dashboard_attention_horizons(ids uuid[]) RETURNS TABLE (partner_id uuid, horizon date)
LANGUAGE sql STABLE AS $$
    SELECT pa.id,
           CASE WHEN pa.reassessment_due_at IS NOT NULL THEN '-infinity'::date ELSE least(g.horizon, s.horizon) END
    FROM partners pa
    LEFT JOIN (SELECT g.partner_id, min(g.horizon) AS horizon FROM dashboard_agreement_groups g
               WHERE g.partner_id = ANY (ids) GROUP BY 1) g ON g.partner_id = pa.id
    LEFT JOIN (SELECT s.partner_id, min(s.ends_on) AS horizon FROM scopes s
               WHERE s.partner_id = ANY (ids) AND s.status = 'approved' GROUP BY 1) s ON s.partner_id = pa.id
    WHERE pa.id = ANY (ids) AND pa.status NOT IN ('offboarding', 'offboarded')
      AND (pa.reassessment_due_at IS NOT NULL OR g.horizon IS NOT NULL OR s.horizon IS NOT NULL)
$$;

CREATE FUNCTION dashboard_refresh_partner_attentions(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p uuid;
BEGIN
    IF cardinality(ids) <= 4 THEN
        -- A few rows: planning these statements for the set costs more than it saves.
        FOREACH p IN ARRAY ids LOOP
            PERFORM dashboard_refresh_partner_attention(p);
        END LOOP;
        RETURN;
    END IF;
    -- A placeholder for each partner that has no row yet (a partner deleted in this
    -- transaction gets none: nobody else can refresh it), then every row locked.
    INSERT INTO dashboard_partner_attention (partner_id, horizon)
    SELECT id, 'infinity' FROM partners WHERE id = ANY (ids) ORDER BY id
    ON CONFLICT (partner_id) DO NOTHING;
    PERFORM 1 FROM dashboard_partner_attention WHERE partner_id = ANY (ids) ORDER BY partner_id FOR UPDATE;

    UPDATE dashboard_attention_days d SET n = d.n - o.n
    FROM (SELECT horizon, count(*) AS n FROM dashboard_partner_attention
          WHERE partner_id = ANY (ids) AND horizon <> 'infinity' GROUP BY horizon) o
    WHERE d.horizon = o.horizon;
    UPDATE dashboard_partner_attention a SET horizon = coalesce(h.horizon, 'infinity')
    FROM (SELECT DISTINCT i AS partner_id FROM unnest(ids) i) k
    LEFT JOIN dashboard_attention_horizons(ids) h USING (partner_id)
    WHERE a.partner_id = k.partner_id;
    DELETE FROM dashboard_partner_attention WHERE partner_id = ANY (ids) AND horizon = 'infinity';
    INSERT INTO dashboard_attention_days (horizon, n)
    SELECT horizon, count(*) FROM dashboard_partner_attention WHERE partner_id = ANY (ids)
    GROUP BY horizon ORDER BY horizon
    ON CONFLICT (horizon) DO UPDATE SET n = dashboard_attention_days.n + excluded.n;
END $$;

-- Recompute the given (partner, kind) groups (parallel arrays) from the tables: take back
-- what they added, add what they hold now, then refresh their partners' attention.
CREATE FUNCTION dashboard_refresh_agreement_groups(ps uuid[], ks text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    key record;
BEGIN
    IF cardinality(ps) <= 4 THEN
        FOR key IN SELECT DISTINCT p, k FROM unnest(ps, ks) x (p, k) LOOP
            PERFORM dashboard_refresh_agreement_group(key.p, key.k);
        END LOOP;
        RETURN;
    END IF;
    INSERT INTO dashboard_agreement_groups (partner_id, kind, horizon, expiries)
    SELECT DISTINCT k.partner_id, k.kind, 'infinity'::date, '{}'::date[] FROM unnest(ps, ks) k (partner_id, kind)
    WHERE EXISTS (SELECT 1 FROM partners WHERE id = k.partner_id) ORDER BY 1, 2
    ON CONFLICT (partner_id, kind) DO NOTHING;
    PERFORM 1 FROM dashboard_agreement_groups g
    WHERE (g.partner_id, g.kind) IN (SELECT * FROM unnest(ps, ks))
    ORDER BY g.partner_id, g.kind FOR UPDATE;

    UPDATE dashboard_agreement_days d SET n = d.n - o.n
    FROM (SELECT g.horizon, x AS expires_on, count(*) AS n
          FROM dashboard_agreement_groups g, unnest(g.expiries) x
          WHERE (g.partner_id, g.kind) IN (SELECT * FROM unnest(ps, ks)) AND g.horizon <> 'infinity'
          GROUP BY 1, 2) o
    WHERE d.horizon = o.horizon AND d.expires_on = o.expires_on;
    UPDATE dashboard_agreement_groups g
    SET horizon = coalesce(f.horizon, 'infinity'), expiries = coalesce(f.expiries, '{}')
    FROM (SELECT DISTINCT * FROM unnest(ps, ks) k (partner_id, kind)) k
    LEFT JOIN (SELECT a.partner_id, a.kind, max(a.expires_on) AS horizon,
                      array_agg(a.expires_on ORDER BY a.expires_on) AS expiries
               FROM agreements a JOIN partners pa ON pa.id = a.partner_id
               WHERE (a.partner_id, a.kind) IN (SELECT * FROM unnest(ps, ks)) AND a.terminated_at IS NULL
                 AND pa.status NOT IN ('offboarding', 'offboarded')
               GROUP BY 1, 2 HAVING bool_and(a.expires_on IS NOT NULL)) f USING (partner_id, kind)
    WHERE g.partner_id = k.partner_id AND g.kind = k.kind;
    DELETE FROM dashboard_agreement_groups
    WHERE (partner_id, kind) IN (SELECT * FROM unnest(ps, ks)) AND horizon = 'infinity';
    INSERT INTO dashboard_agreement_days (horizon, expires_on, n)
    SELECT g.horizon, x, count(*) FROM dashboard_agreement_groups g, unnest(g.expiries) x
    WHERE (g.partner_id, g.kind) IN (SELECT * FROM unnest(ps, ks))
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (horizon, expires_on) DO UPDATE SET n = dashboard_agreement_days.n + excluded.n;

    PERFORM dashboard_refresh_partner_attentions(ps);
END $$;

-- Partners: counts by status and tier, and the attention of new partners.
CREATE FUNCTION dashboard_partners_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dashboard_partner_counts (status, tier, n)
    SELECT status, tier, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (status, tier) DO UPDATE SET n = dashboard_partner_counts.n + excluded.n;
    -- New partners have no counter rows, and nobody else can see them to refresh them
    -- before this transaction commits: their rows are written once, with no placeholder.
    WITH added AS (
        INSERT INTO dashboard_partner_attention (partner_id, horizon)
        SELECT partner_id, horizon FROM dashboard_attention_horizons(array(SELECT id FROM new_rows))
        RETURNING horizon
    )
    INSERT INTO dashboard_attention_days (horizon, n)
    SELECT horizon, count(*) FROM added GROUP BY horizon ORDER BY horizon
    ON CONFLICT (horizon) DO UPDATE SET n = dashboard_attention_days.n + excluded.n;
    RETURN NULL;
END $$;
CREATE FUNCTION dashboard_partners_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dashboard_partner_counts c SET n = c.n - o.n
    FROM (SELECT status, tier, count(*) AS n FROM old_rows GROUP BY 1, 2) o
    WHERE c.status = o.status AND c.tier = o.tier;
    RETURN NULL;
END $$;

DROP TRIGGER dashboard_partners_count ON partners;
CREATE TRIGGER dashboard_partners_count AFTER UPDATE OF status, tier ON partners
    FOR EACH ROW EXECUTE FUNCTION dashboard_partners_count();
CREATE TRIGGER dashboard_partners_insert AFTER INSERT ON partners
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_partners_inserted();
CREATE TRIGGER dashboard_partners_delete AFTER DELETE ON partners
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_partners_deleted();

DROP TRIGGER dashboard_partner_attention ON partners;
CREATE TRIGGER dashboard_partner_attention AFTER UPDATE OF status, reassessment_due_at ON partners
    FOR EACH ROW EXECUTE FUNCTION dashboard_partner_attention_changed();

-- Agreements: the groups a statement's rows belong to, refreshed together.
CREATE FUNCTION dashboard_agreements_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_refresh_agreement_groups(array_agg(partner_id), array_agg(kind)) FROM new_rows;
    RETURN NULL;
END $$;
CREATE FUNCTION dashboard_agreements_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_refresh_agreement_groups(array_agg(partner_id), array_agg(kind)) FROM old_rows;
    RETURN NULL;
END $$;

DROP TRIGGER dashboard_agreements_count ON agreements;
CREATE TRIGGER dashboard_agreements_count
    AFTER UPDATE OF partner_id, kind, expires_on, terminated_at ON agreements
    FOR EACH ROW EXECUTE FUNCTION dashboard_agreements_count();
CREATE TRIGGER dashboard_agreements_insert AFTER INSERT ON agreements
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_agreements_inserted();
CREATE TRIGGER dashboard_agreements_delete AFTER DELETE ON agreements
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_agreements_deleted();
