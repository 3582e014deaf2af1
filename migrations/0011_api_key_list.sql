-- The administrator's list of every API key, oldest first, paged by (created_at, id).
CREATE INDEX api_keys_created_idx ON api_keys (created_at, id);
