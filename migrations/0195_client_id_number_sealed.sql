-- A client's ID number (a person's 身份证号 is sensitive personal information) or credit
-- code is no longer kept in the clear. It is sealed with the data keys like the other
-- secrets (vendor_risk/documents.py `seal_text`, bound to the row) and found by a keyed
-- digest (HMAC-SHA-256 under a key derived from the same data key, so a dump holds nothing
-- that can be brute-forced back to a number). The clear column stays only for rows written
-- before this migration; `prepare_database` and `vendor-risk keys rotate` seal them, and
-- rotation recomputes the digests under the new key.
ALTER TABLE clients
    ADD COLUMN id_number_key_id text,
    ADD COLUMN id_number_sealed bytea,
    ADD COLUMN id_number_digest bytea,
    ADD CONSTRAINT clients_id_number_sealed_whole CHECK (
        (id_number_key_id IS NULL) = (id_number_sealed IS NULL)
        AND (id_number_key_id IS NULL) = (id_number_digest IS NULL)
    );
CREATE UNIQUE INDEX clients_id_number_digest_idx ON clients (id_number_digest)
    WHERE id_number_digest IS NOT NULL;
-- Key rotation and the start-up sealing find their rows by key (or by a clear number).
CREATE INDEX clients_id_number_key_idx ON clients (id_number_key_id)
    WHERE id_number IS NOT NULL OR id_number_key_id IS NOT NULL;
-- The name and email match is for clients without a number, in the clear or sealed.
DROP INDEX clients_name_email_idx;
CREATE INDEX clients_name_email_idx ON clients (lower(name), lower(contact_email))
    WHERE id_number IS NULL AND id_number_digest IS NULL;
