-- The heat map's counts (live partners by tier × residual rating) without scanning every
-- partner: each statement that inserts, updates or deletes partners appends what it
-- changed in each cell (one row per cell it touched, from its transition tables), and the
-- heat map sums the rows. Appending takes no lock another writer waits for (a counter row
-- updated in place would serialise every partner write). The worker's hourly snapshot
-- sweep replaces the rows by a recount from `partners` (reports.snapshots.recount_heat),
-- which keeps them few and repairs what a write with triggers disabled left out.
CREATE TABLE partner_heat_counts (
    tier text NOT NULL,
    -- The residual rating, or 'unrated'.
    rating text NOT NULL,
    n integer NOT NULL
);

CREATE FUNCTION partner_heat_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_heat_counts (tier, rating, n)
    SELECT tier, coalesce(residual_rating, 'unrated'), count(*)
    FROM new_rows WHERE status <> 'offboarded' GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION partner_heat_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_heat_counts (tier, rating, n)
    SELECT tier, coalesce(residual_rating, 'unrated'), -count(*)
    FROM old_rows WHERE status <> 'offboarded' GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION partner_heat_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_heat_counts (tier, rating, n)
    SELECT tier, rating, sum(n) FROM (
        SELECT tier, coalesce(residual_rating, 'unrated') AS rating, 1 AS n
        FROM new_rows WHERE status <> 'offboarded'
        UNION ALL
        SELECT tier, coalesce(residual_rating, 'unrated'), -1
        FROM old_rows WHERE status <> 'offboarded'
    ) d
    GROUP BY 1, 2 HAVING sum(n) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER partner_heat_insert AFTER INSERT ON partners
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partner_heat_inserted();
CREATE TRIGGER partner_heat_delete AFTER DELETE ON partners
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION partner_heat_deleted();
CREATE TRIGGER partner_heat_update AFTER UPDATE ON partners
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partner_heat_updated();

INSERT INTO partner_heat_counts (tier, rating, n)
SELECT tier, coalesce(residual_rating, 'unrated'), count(*)
FROM partners WHERE status <> 'offboarded' GROUP BY 1, 2;
