-- The dashboard's per-partner counters (0125) serialised the refreshes of one partner with
-- an advisory lock per partner and per (partner, kind) of agreement, held to the end of the
-- transaction. Advisory locks live in the shared lock table, which holds
-- max_locks_per_transaction × max_connections entries (6,400 on a default PostgreSQL) for
-- every session at once: importing 10,000 partners with their NDAs in one transaction took
-- 20,000 of them and failed with "out of shared memory", and so would any statement that
-- touches thousands of partners' scopes or agreements at once (an expiry sweep's first run).
--
-- A refresh now locks the counter's own row instead: it upserts the row (a placeholder
-- with the horizon 'infinity' when the partner has none yet), which takes a row lock that
-- a concurrent refresh of the same partner waits for, as it waited for the advisory lock.
-- Row locks are kept in the rows, not in the lock table, so a transaction may hold any
-- number. The placeholder never outlives the refresh that made it: the refresh ends by
-- updating the row to its real horizon or deleting it. No real horizon is 'infinity' (it
-- is the latest of dates that are all set, or the earliest of them). A partner deleted in
-- the same transaction gets no placeholder (its key would be gone): its rows are deleted
-- as before.

CREATE OR REPLACE FUNCTION dashboard_refresh_partner_attention(p uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    old_horizon date;
    new_horizon date;
BEGIN
    INSERT INTO dashboard_partner_attention AS a
    SELECT p, 'infinity' WHERE EXISTS (SELECT 1 FROM partners WHERE id = p)
    ON CONFLICT (partner_id) DO UPDATE SET horizon = a.horizon
    RETURNING horizon INTO old_horizon;
    IF NOT FOUND THEN
        -- The partner was deleted in this transaction: nobody else can refresh it.
        DELETE FROM dashboard_partner_attention WHERE partner_id = p RETURNING horizon INTO old_horizon;
    END IF;
    IF old_horizon <> 'infinity' THEN
        UPDATE dashboard_attention_days SET n = n - 1 WHERE horizon = old_horizon;
    END IF;
    new_horizon := dashboard_attention_horizon(p);
    IF new_horizon IS NULL THEN
        DELETE FROM dashboard_partner_attention WHERE partner_id = p;
    ELSE
        UPDATE dashboard_partner_attention SET horizon = new_horizon WHERE partner_id = p;
        INSERT INTO dashboard_attention_days VALUES (new_horizon, 1)
        ON CONFLICT (horizon) DO UPDATE SET n = dashboard_attention_days.n + 1;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION dashboard_refresh_agreement_group(p uuid, k text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    old_group dashboard_agreement_groups;
    new_horizon date;
    new_expiries date[];
BEGIN
    INSERT INTO dashboard_agreement_groups AS g
    SELECT p, k, 'infinity', '{}' WHERE EXISTS (SELECT 1 FROM partners WHERE id = p)
    ON CONFLICT (partner_id, kind) DO UPDATE SET horizon = g.horizon
    RETURNING * INTO old_group;
    IF NOT FOUND THEN
        DELETE FROM dashboard_agreement_groups WHERE partner_id = p AND kind = k RETURNING * INTO old_group;
    END IF;
    IF old_group.horizon <> 'infinity' THEN
        UPDATE dashboard_agreement_days d SET n = d.n - e.n
        FROM (SELECT x AS expires_on, count(*) AS n FROM unnest(old_group.expiries) x GROUP BY x) e
        WHERE d.horizon = old_group.horizon AND d.expires_on = e.expires_on;
    END IF;
    SELECT max(a.expires_on), array_agg(a.expires_on ORDER BY a.expires_on)
    INTO new_horizon, new_expiries
    FROM agreements a JOIN partners pa ON pa.id = a.partner_id
    WHERE a.partner_id = p AND a.kind = k AND a.terminated_at IS NULL
      AND pa.status NOT IN ('offboarding', 'offboarded')
    HAVING bool_and(a.expires_on IS NOT NULL);
    IF new_horizon IS NULL THEN
        DELETE FROM dashboard_agreement_groups WHERE partner_id = p AND kind = k;
    ELSE
        UPDATE dashboard_agreement_groups SET horizon = new_horizon, expiries = new_expiries
        WHERE partner_id = p AND kind = k;
        INSERT INTO dashboard_agreement_days (horizon, expires_on, n)
        SELECT new_horizon, x, count(*) FROM unnest(new_expiries) x GROUP BY x
        ON CONFLICT (horizon, expires_on) DO UPDATE SET n = dashboard_agreement_days.n + excluded.n;
    END IF;
    PERFORM dashboard_refresh_partner_attention(p);
END $$;
