-- TOTP secrets and chat robot addresses (their key or access token is in the URL) are
-- sealed with the data keys like webhook secrets (vendor_risk/documents.py `seal_text`:
-- nonce || AES-256-GCM ciphertext, bound to the row). The clear columns stay only for rows
-- written before this migration or without a data key; `prepare_database` and
-- `vendor-risk keys rotate` seal them.
ALTER TABLE users
    ADD COLUMN totp_key_id text,
    ADD COLUMN totp_sealed bytea,
    ADD COLUMN totp_pending_key_id text,
    ADD COLUMN totp_pending_sealed bytea,
    ADD CONSTRAINT users_totp_sealed_whole CHECK ((totp_key_id IS NULL) = (totp_sealed IS NULL)),
    ADD CONSTRAINT users_totp_pending_sealed_whole
        CHECK ((totp_pending_key_id IS NULL) = (totp_pending_sealed IS NULL));
-- Key rotation and the start-up sealing find their rows by key (or its absence).
CREATE INDEX users_totp_key_idx ON users (totp_key_id, totp_pending_key_id)
    WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL
       OR totp_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL;

ALTER TABLE chat_channels
    ALTER COLUMN url DROP NOT NULL,
    ADD COLUMN url_key_id text,
    ADD COLUMN url_sealed bytea,
    ADD CONSTRAINT chat_channels_url_sealed_whole CHECK ((url_key_id IS NULL) = (url_sealed IS NULL)),
    ADD CONSTRAINT chat_channels_url_present CHECK (url IS NOT NULL OR url_sealed IS NOT NULL);
CREATE INDEX chat_channels_key_idx ON chat_channels (url_key_id, secret_key_id);
