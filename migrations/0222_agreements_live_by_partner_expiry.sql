-- Every partner list shows whether each partner on the page has an agreement expired or
-- expiring (partners/repository.py ATTENTION_SQL, and NEEDS_ATTENTION_SQL as a filter):
-- one probe per partner, read from agreements_partner_idx and filtered. When PostgreSQL
-- runs such a list from its cached generic plan (it does when that looks no dearer; it
-- chose it for the partner search at 100k partners after an ANALYZE), the window has no
-- dates to estimate by and the probe became a BitmapAnd with agreements_expiry_idx that
-- read the 5,000 agreements expiring in the window for every partner: 7.7 ms for the
-- search instead of 2.1, 18.6 ms for one owner's partners instead of 1.8 (issue #16). With
-- the live agreements by partner and expiry date, each probe is one short range whatever
-- the plan: 1.4 ms and 2.4 ms from the generic plans.
CREATE INDEX agreements_live_partner_expiry_idx ON agreements (partner_id, expires_on)
    WHERE terminated_at IS NULL;
