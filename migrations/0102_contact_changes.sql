-- Contact changes a partner proposes from self-service: the whole proposed list, applied to
-- partner_contacts only when procurement confirms it (at the partner version it was made
-- against); nothing changes before.
CREATE TABLE contact_change_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    -- [{id|null, name, email, phone, role, primary, locale}], as partners.models.ContactIn.
    contacts jsonb NOT NULL,
    note text NOT NULL DEFAULT '',
    base_version integer NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'confirmed', 'rejected', 'superseded')),
    requested_by_label text NOT NULL,
    decision_note text NOT NULL DEFAULT '',
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX contact_change_requests_partner_idx ON contact_change_requests (partner_id, created_at DESC);
-- One proposal waits at a time: a newer one supersedes it.
CREATE UNIQUE INDEX contact_change_requests_pending_key ON contact_change_requests (partner_id)
    WHERE status = 'pending';
