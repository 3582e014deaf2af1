-- Partner self-service (/p): sign-in by a one-time emailed link, then a server-side
-- session scoped to exactly one partner. Only SHA-256 hashes of the link and session
-- tokens are stored; the tokens themselves exist only in the email and in the cookie.
CREATE TABLE selfservice_links (
    token_hash bytea PRIMARY KEY,
    -- The address as typed, lower-cased: one link serves every partner it is a contact of.
    email text NOT NULL,
    lang text NOT NULL CHECK (lang IN ('zh-CN', 'en')),
    address text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
-- Sweeping old links at each request for a new one.
CREATE INDEX selfservice_links_expires_idx ON selfservice_links (expires_at);

CREATE TABLE selfservice_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash bytea NOT NULL UNIQUE,
    email text NOT NULL,
    -- NULL until a contact of several partners has chosen one; a contact removed from the
    -- partner (or a partner deleted) ends the session with it.
    partner_id uuid REFERENCES partners (id) ON DELETE CASCADE,
    contact_id uuid REFERENCES partner_contacts (id) ON DELETE CASCADE,
    lang text NOT NULL CHECK (lang IN ('zh-CN', 'en')),
    address text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- The absolute end; the idle end is last_seen_at plus the idle timeout.
    expires_at timestamptz NOT NULL,
    CHECK ((partner_id IS NULL) = (contact_id IS NULL))
);
-- The staff partner page lists a partner's sessions; sign-in sweeps ended ones.
CREATE INDEX selfservice_sessions_partner_idx ON selfservice_sessions (partner_id, last_seen_at DESC);
CREATE INDEX selfservice_sessions_expires_idx ON selfservice_sessions (expires_at);

-- A link request and a session look a contact up by address, across partners.
CREATE INDEX partner_contacts_email_idx ON partner_contacts (lower(email));
