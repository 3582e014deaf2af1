-- The development mailbox: with no SMTP server configured, `vendor-risk up` keeps each email
-- here instead of sending it, and an admin reads it at /ui/dev/mail. Stored in PostgreSQL so
-- any process (the worker that delivers, the API that shows) sees the same mailbox; one row
-- per outbox message, so a delivery tried twice is kept once. `serve` never writes here.
CREATE TABLE dev_mail (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- No foreign key: the outbox may be pruned while the mailbox keeps what was shown.
    outbox_id uuid NOT NULL UNIQUE,
    topic text NOT NULL,
    recipient text NOT NULL,
    subject text NOT NULL,
    body_text text NOT NULL,
    lang text NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dev_mail_list_idx ON dev_mail (captured_at DESC, id DESC);
