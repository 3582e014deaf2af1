-- Accounts a firm can hand to its staff: a password (argon2id), a second factor (TOTP with
-- recovery codes), single sign-on (OpenID Connect), one-time links for invitations and
-- resets, throttled sign-in, and sessions that belong to a user rather than to an API key.

ALTER TABLE users
    -- argon2id in its PHC string form; NULL until the invitation is accepted.
    ADD COLUMN password_hash text,
    ADD COLUMN password_changed_at timestamptz,
    -- Base32 TOTP secret. It must be readable to check a code, so it cannot be hashed.
    ADD COLUMN totp_secret text,
    ADD COLUMN totp_enabled_at timestamptz,
    -- A secret being enrolled, not yet confirmed by a code.
    ADD COLUMN totp_pending_secret text,
    -- The last time step whose code was accepted: a code works once.
    ADD COLUMN totp_last_step bigint,
    -- The OpenID Connect subject ("iss sub") the user signed in with, once linked.
    ADD COLUMN oidc_subject text;
CREATE UNIQUE INDEX users_oidc_subject_key ON users (oidc_subject) WHERE oidc_subject IS NOT NULL;

-- Invitation and password-reset links: 256-bit tokens, only their SHA-256 kept, single use.
CREATE TABLE user_tokens (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    purpose text NOT NULL CHECK (purpose IN ('invitation', 'reset')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id, purpose);

-- Ten single-use recovery codes per enrolment, hashed; a new enrolment replaces them.
CREATE TABLE recovery_codes (
    user_id uuid NOT NULL REFERENCES users (id),
    code_hash bytea NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Failed sign-ins per account (by the email typed, known or not) and per client address:
-- the basis of the exponential backoff and the temporary lock.
CREATE TABLE signin_failures (
    key text PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz
);
CREATE INDEX signin_failures_last_failed_idx ON signin_failures (last_failed_at);

-- The step between password and session: the password was right, a code (or an
-- enrolment) is still owed. Short-lived; the browser carries the token in its own cookie.
CREATE TABLE signin_challenges (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    stage text NOT NULL CHECK (stage IN ('code', 'enrol')),
    next text NOT NULL DEFAULT '/ui',
    attempts integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL
);
CREATE INDEX signin_challenges_expires_idx ON signin_challenges (expires_at);
CREATE INDEX signin_challenges_user_idx ON signin_challenges (user_id);

-- An OpenID Connect sign-in under way: state, nonce and PKCE verifier, bound to the
-- browser by the token in its cookie.
CREATE TABLE oidc_flows (
    token_hash bytea PRIMARY KEY,
    state text NOT NULL,
    nonce text NOT NULL,
    code_verifier text NOT NULL,
    next text NOT NULL DEFAULT '/ui',
    expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_flows_expires_idx ON oidc_flows (expires_at);

-- Sessions now belong to a user however they signed in; sessions opened with a key under
-- 0008 end here (everyone signs in again once).
DELETE FROM staff_sessions;
ALTER TABLE staff_sessions
    ALTER COLUMN api_key_id DROP NOT NULL,
    ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN method text NOT NULL DEFAULT 'password' CHECK (method IN ('password', 'oidc', 'api_key')),
    ADD COLUMN user_agent text NOT NULL DEFAULT '',
    ADD COLUMN address text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX staff_sessions_id_key ON staff_sessions (id);
