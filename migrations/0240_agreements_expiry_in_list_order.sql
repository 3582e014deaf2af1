-- The dashboards list the first agreements expired or expiring, not renewed, by
-- (expires_on, id) (partners/repository.py DUE_AGREEMENTS_SQL). agreements_expiry_idx gave
-- the date only, so PostgreSQL read every live agreement of the first dates to sort them by
-- id before it could stop at the page: 66 agreements walked for 5 at 100k partners, and
-- the dashboard went from 3.1 ms at 10k partners to 5.1 ms at 100k (issue #16). In list
-- order it stops at the page: 3.5 ms. The expiry sweep's date ranges read it as before.
CREATE INDEX agreements_expiry_order_idx ON agreements (expires_on, id) WHERE terminated_at IS NULL;
DROP INDEX agreements_expiry_idx;
