-- Chat robots' signing secrets are sealed with the data key, like webhook secrets (main's
-- sealed secrets): a copy of the database alone cannot sign messages to the firm's groups.
ALTER TABLE chat_channels
    ADD COLUMN secret_key_id text,
    ADD COLUMN secret_nonce bytea,
    ADD COLUMN secret_sealed bytea;
ALTER TABLE chat_channels ADD CHECK (platform <> 'wecom' OR secret_sealed IS NULL);
