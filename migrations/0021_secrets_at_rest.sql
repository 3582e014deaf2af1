-- Secrets at rest: email bodies (they carry portal and sign-in links) and webhook signing
-- secrets are sealed with the data keys (AES-256-GCM, vendor_risk/documents.py), and
-- delivered messages lose their content after the retention, keeping their metadata.

-- A sealed email keeps {to, subject, lang} in payload for the admins' list; its whole
-- content is in sealed, under key_id.
ALTER TABLE outbox
    ADD COLUMN key_id text,
    ADD COLUMN nonce bytea,
    ADD COLUMN sealed bytea,
    ADD COLUMN purged_at timestamptz,
    ADD CONSTRAINT outbox_sealed_whole CHECK ((key_id IS NULL) = (sealed IS NULL) AND (nonce IS NULL) = (sealed IS NULL));
-- The purge sweep: delivered messages whose content is still kept, oldest first.
CREATE INDEX outbox_purge_idx ON outbox (delivered_at) WHERE status = 'delivered' AND purged_at IS NULL;
-- Key rotation: the sealed rows, by key.
CREATE INDEX outbox_key_idx ON outbox (key_id) WHERE key_id IS NOT NULL;

-- The plaintext secret stays only for rows written before this migration, until
-- `vendor-risk keys rotate` seals them.
ALTER TABLE webhooks
    ALTER COLUMN secret DROP NOT NULL,
    ADD COLUMN secret_key_id text,
    ADD COLUMN secret_nonce bytea,
    ADD COLUMN secret_sealed bytea,
    ADD CONSTRAINT webhooks_secret_present CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);
CREATE INDEX webhooks_secret_key_idx ON webhooks (secret_key_id);
