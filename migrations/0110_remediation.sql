-- Remediation: a finding the partner says it fixed waits in `verifying` for a reviewer;
-- its history (who did what, when) is kept append-only; the partner's proof files are
-- encrypted documents linked to it.
ALTER TABLE findings DROP CONSTRAINT findings_status_check;
ALTER TABLE findings ADD CONSTRAINT findings_status_check
    CHECK (status IN ('open', 'remediating', 'verifying', 'resolved', 'accepted'));
-- The partner's account of its fix (the proof files are in finding_proofs).
ALTER TABLE findings ADD COLUMN partner_fix_note text;
ALTER TABLE findings ADD COLUMN partner_fixed_at timestamptz;

-- A rule finding in `verifying` is still live: a later assessment raising it again keeps it.
DROP INDEX findings_live_rule_key;
CREATE UNIQUE INDEX findings_live_rule_key ON findings (partner_id, template_key, question_id)
    WHERE source = 'rule' AND status IN ('open', 'remediating', 'verifying', 'accepted');
-- A critical finding awaiting verification is still open risk on the dashboard.
DROP INDEX findings_critical_open_idx;
CREATE INDEX findings_critical_open_idx ON findings (due_on, created_at, id)
    WHERE severity = 'critical' AND status IN ('open', 'remediating', 'verifying');
-- The verification queue: findings awaiting a reviewer, oldest fix first.
CREATE INDEX findings_verifying_idx ON findings (partner_fixed_at, id) WHERE status = 'verifying';

CREATE TABLE finding_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id uuid NOT NULL REFERENCES findings (id),
    at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid REFERENCES users (id),
    actor_label text NOT NULL,
    -- Whose hand: staff, partner (portal or self-service) or system (a submission, a sweep).
    side text NOT NULL CHECK (side IN ('staff', 'partner', 'system')),
    kind text NOT NULL CHECK (kind IN ('opened', 'assigned', 'planned', 'fixed', 'answer_changed',
        'resolved', 'reopened', 'accepted', 'status_changed', 'reminded', 'escalated')),
    status text NOT NULL,
    note text
);
CREATE INDEX finding_events_finding_idx ON finding_events (finding_id, at, id);

CREATE FUNCTION finding_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'finding history is append-only';
END
$$;
CREATE TRIGGER finding_events_append_only BEFORE UPDATE OR DELETE ON finding_events
    FOR EACH ROW EXECUTE FUNCTION finding_events_append_only();

CREATE TABLE finding_proofs (
    finding_id uuid NOT NULL REFERENCES findings (id),
    document_id uuid NOT NULL REFERENCES documents (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (finding_id, document_id)
);
