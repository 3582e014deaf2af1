-- Assessments: questionnaires sent to a partner by link, their answers, evidence and
-- reviews; the findings they raise and the risks accepted on them.

CREATE TABLE assessments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    kind text NOT NULL CHECK (kind IN ('onboarding', 'periodic', 'triggered', 'offboarding')),
    status text NOT NULL DEFAULT 'sent' CHECK (status IN
        ('sent', 'in_progress', 'submitted', 'approved', 'rejected', 'changes_requested',
         'expired', 'cancelled')),
    recipient_contact_id uuid REFERENCES partner_contacts (id) ON DELETE SET NULL,
    recipient_email text NOT NULL,
    recipient_name text NOT NULL,
    locale text NOT NULL CHECK (locale IN ('zh-CN', 'en')),
    message text NOT NULL DEFAULT '',
    reason text,
    due_on date NOT NULL,
    -- The partner's earlier assessment whose answers pre-filled this one, if any.
    previous_assessment_id uuid REFERENCES assessments (id),
    -- Bumped by every section save; the portal's optimistic concurrency token.
    answers_version integer NOT NULL DEFAULT 0,
    score double precision,
    score_breakdown jsonb,
    receipt_hash text CHECK (receipt_hash ~ '^[0-9a-f]{64}$'),
    submitted_at timestamptz,
    submitted_by text,
    reviewed_at timestamptz,
    reviewed_by uuid REFERENCES users (id),
    closed_reason text,
    sent_by uuid REFERENCES users (id),
    sent_by_label text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
-- At most one assessment awaiting the partner or a reviewer per partner and purpose
-- (security, or the offboarding attestation): a sweep that runs twice, or two workers,
-- cannot send a second one.
CREATE UNIQUE INDEX assessments_one_open_key ON assessments (partner_id, (kind = 'offboarding'))
    WHERE status IN ('sent', 'in_progress', 'submitted', 'changes_requested');
-- Lists page newest first by (sent_at, id); one index per filter.
CREATE INDEX assessments_sent_idx ON assessments (sent_at DESC, id DESC);
CREATE INDEX assessments_partner_idx ON assessments (partner_id, sent_at DESC, id DESC);
CREATE INDEX assessments_status_idx ON assessments (status, sent_at DESC, id DESC);
CREATE INDEX assessments_kind_idx ON assessments (kind, sent_at DESC, id DESC);
CREATE INDEX assessments_due_idx ON assessments (due_on)
    WHERE status IN ('sent', 'in_progress', 'changes_requested');
-- The gates read the latest approved assessment of each kind per partner.
CREATE INDEX assessments_approved_idx ON assessments (partner_id, kind, reviewed_at DESC)
    WHERE status = 'approved';

-- The questionnaires bundled into one assessment, each at the exact version sent, with
-- the partner's answers ({question id: {value, na, comment}}).
CREATE TABLE assessment_parts (
    assessment_id uuid NOT NULL REFERENCES assessments (id),
    position integer NOT NULL CHECK (position >= 0),
    template_id uuid NOT NULL REFERENCES questionnaire_templates (id),
    template_key text NOT NULL,
    answers jsonb NOT NULL DEFAULT '{}',
    -- Section id -> the answers_version of its last save.
    saved_sections jsonb NOT NULL DEFAULT '{}',
    -- Sections pre-filled from the previous assessment: the partner confirms each by saving it.
    prefilled_sections text[] NOT NULL DEFAULT '{}',
    score double precision,
    PRIMARY KEY (assessment_id, position),
    UNIQUE (assessment_id, template_key)
);
CREATE INDEX assessment_parts_template_idx ON assessment_parts (template_id);

-- Portal links: only the SHA-256 of the token is kept; the token is shown once.
CREATE TABLE portal_links (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    assessment_id uuid NOT NULL REFERENCES assessments (id),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('resent', 'cancelled', 'expired', 'revoked')),
    last_used_at timestamptz
);
CREATE UNIQUE INDEX portal_links_live_key ON portal_links (assessment_id) WHERE revoked_at IS NULL;
CREATE INDEX portal_links_assessment_idx ON portal_links (assessment_id, created_at DESC);

CREATE TABLE assessment_evidence (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    assessment_id uuid NOT NULL REFERENCES assessments (id),
    template_key text NOT NULL,
    question_id text NOT NULL,
    document_id uuid NOT NULL REFERENCES documents (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Removed by the partner before submitting; the document is kept for the audit trail.
    removed_at timestamptz
);
CREATE INDEX assessment_evidence_assessment_idx ON assessment_evidence (assessment_id, created_at)
    WHERE removed_at IS NULL;
CREATE INDEX assessment_evidence_document_idx ON assessment_evidence (document_id);

CREATE TABLE assessment_reviews (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    assessment_id uuid NOT NULL REFERENCES assessments (id),
    decision text NOT NULL CHECK (decision IN ('approve', 'reject', 'request_changes')),
    note text NOT NULL DEFAULT '',
    -- [{questionnaire, question_id, comment}], shown to the partner beside the questions.
    comments jsonb NOT NULL DEFAULT '[]',
    reviewer_id uuid REFERENCES users (id),
    reviewer_label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessment_reviews_assessment_idx ON assessment_reviews (assessment_id, created_at DESC);

-- Each reminder is sent once per due date (a new due date on resend starts again).
CREATE TABLE assessment_reminders (
    assessment_id uuid NOT NULL REFERENCES assessments (id),
    due_on date NOT NULL,
    reminder text NOT NULL CHECK (reminder IN ('d7', 'd3', 'd1', 'overdue')),
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assessment_id, due_on, reminder)
);

CREATE TABLE findings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    -- The assessment that raised it, and the latest one that raised it again.
    assessment_id uuid REFERENCES assessments (id),
    last_assessment_id uuid REFERENCES assessments (id),
    source text NOT NULL CHECK (source IN ('rule', 'manual')),
    template_key text,
    question_id text,
    section_id text,
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    -- {"zh-CN": …, "en": …}
    title jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    remediation jsonb,
    refs jsonb,
    -- The answer that raised a rule finding (as last seen).
    answer jsonb,
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'remediating', 'resolved', 'accepted')),
    owner_id uuid REFERENCES users (id),
    due_on date,
    remediation_plan text,
    partner_plan text,
    partner_planned_on date,
    partner_responded_at timestamptz,
    resolution_note text,
    resolved_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CHECK ((source = 'rule') = (question_id IS NOT NULL AND template_key IS NOT NULL))
);
-- A rule finding is live at most once per partner and question: raised again by a later
-- assessment, it is kept, not duplicated.
CREATE UNIQUE INDEX findings_live_rule_key ON findings (partner_id, template_key, question_id)
    WHERE source = 'rule' AND status IN ('open', 'remediating', 'accepted');
CREATE INDEX findings_created_idx ON findings (created_at DESC, id DESC);
CREATE INDEX findings_partner_idx ON findings (partner_id, created_at DESC, id DESC);
CREATE INDEX findings_status_idx ON findings (status, created_at DESC, id DESC);
CREATE INDEX findings_severity_idx ON findings (severity, created_at DESC, id DESC);
CREATE INDEX findings_owner_idx ON findings (owner_id, created_at DESC, id DESC);
CREATE INDEX findings_assessment_idx ON findings (assessment_id);
CREATE INDEX findings_last_assessment_idx ON findings (last_assessment_id);
CREATE INDEX findings_due_idx ON findings (due_on) WHERE status IN ('open', 'remediating');

-- A risk owner's acceptance of a finding until a date. The row is immutable: the only
-- change ever made is marking it stale (once), when a later assessment changes the answer
-- that raised the finding or when it expires.
CREATE TABLE risk_acceptances (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    finding_id uuid NOT NULL REFERENCES findings (id),
    until date NOT NULL,
    justification text NOT NULL,
    accepted_by uuid REFERENCES users (id),
    accepted_by_label text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    stale_at timestamptz,
    stale_reason text,
    CHECK ((stale_at IS NULL) = (stale_reason IS NULL))
);
CREATE INDEX risk_acceptances_finding_idx ON risk_acceptances (finding_id, accepted_at DESC);
CREATE INDEX risk_acceptances_live_idx ON risk_acceptances (until) WHERE stale_at IS NULL;

CREATE FUNCTION risk_acceptances_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'risk acceptances are kept for good';
    END IF;
    IF OLD.stale_at IS NOT NULL
       OR (NEW.id, NEW.finding_id, NEW.until, NEW.justification, NEW.accepted_by,
           NEW.accepted_by_label, NEW.accepted_at)
          IS DISTINCT FROM
          (OLD.id, OLD.finding_id, OLD.until, OLD.justification, OLD.accepted_by,
           OLD.accepted_by_label, OLD.accepted_at) THEN
        RAISE EXCEPTION 'a risk acceptance is immutable; it can only go stale, once';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER risk_acceptances_immutable BEFORE UPDATE OR DELETE ON risk_acceptances
    FOR EACH ROW EXECUTE FUNCTION risk_acceptances_immutable();
