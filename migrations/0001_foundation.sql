-- Foundation: staff users and their API keys, the hash-chained audit trail, and the
-- transactional outbox that every domain writes its emails and webhook events to.

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'procurement', 'risk_owner', 'auditor')),
    locale text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role) WHERE disabled_at IS NULL;

CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    name text NOT NULL,
    -- The first characters of the key, to recognise it in lists; never enough to use it.
    prefix text NOT NULL,
    -- SHA-256 of the whole key: the key itself is shown once and never stored.
    key_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE audit_events (
    seq bigint PRIMARY KEY,
    id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    occurred_at timestamptz NOT NULL,
    actor_id uuid,
    actor_label text NOT NULL,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    before jsonb,
    after jsonb,
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_type, entity_id, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action_idx ON audit_events (action, seq);
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at);

-- Webhook subscriptions live here so that any domain can fan an event out to them in
-- the same transaction as the change that caused it.
CREATE TABLE webhooks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url text NOT NULL,
    events text[] NOT NULL,
    -- Standard Webhooks signing secret ("whsec_" + base64). Kept usable because the worker
    -- must sign with it; it is shown once at creation and never returned again.
    secret text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    disabled_at timestamptz
);
CREATE INDEX webhooks_events_idx ON webhooks USING gin (events) WHERE disabled_at IS NULL;

CREATE TABLE outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    channel text NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- Event type for webhooks, template name for email: what this message is about.
    topic text NOT NULL,
    webhook_id uuid REFERENCES webhooks (id),
    -- Email: {to, subject, text, html, lang}; webhook: {type, timestamp, data}.
    payload jsonb NOT NULL,
    -- Set when the same message must never be sent twice (a reminder, an escalation).
    dedupe_key text UNIQUE,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_status_idx ON outbox (status, created_at);
