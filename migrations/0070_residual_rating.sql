-- The partner's residual rating (the rating of its latest approved assessment combined with
-- its open findings, as assessments.rules.rate computes it), stored so the partner list can
-- sort and filter by risk and the heat map can count it. NULL until an approved assessment.
-- The services recompute it in the transaction of every change to its inputs; the worker's
-- daily sweep repairs whatever time (an acceptance that lapsed) or a bug left behind.
ALTER TABLE partners
    ADD COLUMN residual_rating text CHECK (residual_rating IN ('low', 'medium', 'high', 'critical')),
    -- When the stored rating last changed.
    ADD COLUMN residual_rated_at timestamptz;

-- Risk order for sorting: NULL (not rated yet) sorts below low.
CREATE FUNCTION rating_rank(rating text) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE rating WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
                              WHEN 'critical' THEN 4 ELSE 0 END::smallint $$;

-- `sort=rating`: worst first, then newest, keyset-paged on (rank, created_at, id).
CREATE INDEX partners_rating_sort_idx ON partners (rating_rank(residual_rating) DESC, created_at DESC, id DESC);
-- `rating=` filter, newest first.
CREATE INDEX partners_rating_idx ON partners (residual_rating, created_at DESC, id DESC);
-- The heat map counts tier × rating over live partners from the index alone.
CREATE INDEX partners_tier_rating_idx ON partners (tier, residual_rating) INCLUDE (status);

-- Every change of a partner's rating, for its rating history chart.
CREATE TABLE partner_ratings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES partners (id),
    rated_at timestamptz NOT NULL DEFAULT now(),
    rating text CHECK (rating IN ('low', 'medium', 'high', 'critical')),
    tier text NOT NULL,
    score double precision,
    open_findings jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX partner_ratings_partner_idx ON partner_ratings (partner_id, rated_at DESC);
