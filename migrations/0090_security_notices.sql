-- Security notices (issue 14): versioned bilingual notices (notices/*.md, loaded at start
-- like the questionnaires), published to an audience of partners; each contact reached
-- gets a personal link (only its SHA-256 is stored) to read and acknowledge the version.
-- A loaded version is never changed: a new text is a new, higher version.
CREATE TABLE notice_versions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key text NOT NULL CHECK (key ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    version integer NOT NULL CHECK (version >= 1),
    kind text NOT NULL CHECK (kind IN ('requirement', 'guidance', 'advisory', 'policy_change')),
    ack_required boolean NOT NULL,
    title_zh text NOT NULL,
    title_en text NOT NULL,
    -- The Markdown as written and its HTML, rendered once at load (HTML in the source is
    -- shown as text, never passed through).
    body_zh text NOT NULL,
    body_en text NOT NULL,
    html_zh text NOT NULL,
    html_en text NOT NULL,
    content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (key, version)
);

CREATE FUNCTION notice_versions_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'notice versions are immutable: load a higher version';
END
$$;

CREATE TRIGGER notice_versions_immutable
    BEFORE UPDATE OR DELETE ON notice_versions
    FOR EACH ROW EXECUTE FUNCTION notice_versions_immutable();

CREATE TRIGGER notice_versions_no_truncate
    BEFORE TRUNCATE ON notice_versions
    FOR EACH STATEMENT EXECUTE FUNCTION notice_versions_immutable();

-- One sending of a version to an audience; the audience is kept as chosen, and the
-- partners and contacts it reached are the recipients' rows.
CREATE TABLE notice_publications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    notice_version_id uuid NOT NULL REFERENCES notice_versions (id),
    audience text NOT NULL
        CHECK (audience IN ('all', 'tier', 'data_category', 'service_type', 'partner')),
    -- The tier, the data category's code, the service type or the partner's id.
    audience_value text,
    CHECK ((audience = 'all') = (audience_value IS NULL)),
    due_on date,
    message text NOT NULL DEFAULT '',
    published_by uuid REFERENCES users (id),
    published_at timestamptz NOT NULL DEFAULT now(),
    partner_count integer NOT NULL,
    contact_count integer NOT NULL
);
CREATE INDEX notice_publications_published_idx ON notice_publications (published_at DESC, id DESC);
CREATE INDEX notice_publications_version_idx ON notice_publications (notice_version_id);
-- The reminder sweep reads publications by due date.
CREATE INDEX notice_publications_due_idx ON notice_publications (due_on) WHERE due_on IS NOT NULL;

CREATE TABLE notice_recipients (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    publication_id uuid NOT NULL REFERENCES notice_publications (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    -- The contact as it was when the notice went out (a contact may later be removed).
    contact_id uuid,
    contact_name text NOT NULL,
    email text NOT NULL,
    locale text NOT NULL CHECK (locale IN ('zh-CN', 'en')),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    expires_at timestamptz NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    opened_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_name text,
    -- How it was acknowledged: the emailed link or the partner's self-service portal.
    acknowledged_via text CHECK (acknowledged_via IN ('link', 'portal')),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_name IS NULL)),
    UNIQUE (publication_id, contact_id)
);
CREATE INDEX notice_recipients_publication_idx ON notice_recipients (publication_id, partner_id);
CREATE INDEX notice_recipients_partner_idx ON notice_recipients (partner_id, sent_at DESC);
-- The sweep reads only recipients still to acknowledge.
CREATE INDEX notice_recipients_open_idx ON notice_recipients (publication_id)
    WHERE acknowledged_at IS NULL;

-- One row per reminder issued to a contact (kind: days before the due date) and per
-- escalation issued for a partner (to its owner, once the due date has passed): the sweep
-- inserts first and sends only when the insert took, so each goes once.
CREATE TABLE notice_reminders (
    recipient_id uuid NOT NULL REFERENCES notice_recipients (id),
    days_before integer NOT NULL CHECK (days_before >= 0),
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recipient_id, days_before)
);
CREATE TABLE notice_escalations (
    publication_id uuid NOT NULL REFERENCES notice_publications (id),
    partner_id uuid NOT NULL REFERENCES partners (id),
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (publication_id, partner_id)
);
