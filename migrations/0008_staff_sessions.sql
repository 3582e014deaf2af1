-- Staff sessions for the /ui pages: a staff member signs in once with an API key and the
-- browser then carries a random session token. Only its SHA-256 is stored. The session
-- keeps the key it was opened with, so revoking that key or disabling the user ends it.
CREATE TABLE staff_sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    api_key_id uuid NOT NULL REFERENCES api_keys (id),
    -- The language picked with the page switch; NULL follows the user's locale.
    lang text CHECK (lang IN ('zh-CN', 'en')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- The absolute end; the idle end is last_seen_at plus the idle timeout.
    expires_at timestamptz NOT NULL
);
-- Sweeping ended sessions at sign-in.
CREATE INDEX staff_sessions_expires_at ON staff_sessions (expires_at);
CREATE INDEX staff_sessions_user_id ON staff_sessions (user_id);
