-- The worker: listing the outbox for admins, and the ledger that makes each one-time
-- notice (an agreement's 30-day alert, a reminder) happen once.

-- GET /api/v1/outbox pages newest first, optionally by status and channel.
CREATE INDEX outbox_list_idx ON outbox (created_at DESC, id DESC);
CREATE INDEX outbox_status_list_idx ON outbox (status, created_at DESC, id DESC);
CREATE INDEX outbox_channel_list_idx ON outbox (channel, status, created_at DESC, id DESC);
-- Superseded by outbox_status_list_idx, which also serves the metrics' oldest pending age.
DROP INDEX outbox_status_idx;

-- One row per notice a sweep has issued. A sweep inserts the key first and acts only when
-- the insert took, in the same transaction, so however often it runs and however many
-- workers run it, each notice is issued once, even when nobody subscribes to its event.
CREATE TABLE notices (
    key text PRIMARY KEY,
    issued_at timestamptz NOT NULL DEFAULT now()
);
