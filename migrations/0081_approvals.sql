-- Two-person approvals (issue 15): a decision the policy says needs a second, distinct risk
-- owner is recorded here at its first approval and completed by the second.
CREATE TABLE pending_decisions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The policy rule that asked for a second approval (policy.yaml `approvals[].id`).
    rule_id text NOT NULL,
    decision text NOT NULL CHECK (decision IN ('partner_activation', 'scope_approval', 'risk_acceptance')),
    entity_type text NOT NULL CHECK (entity_type IN ('partner', 'scope', 'finding')),
    entity_id uuid NOT NULL,
    partner_id uuid NOT NULL REFERENCES partners (id),
    -- What the first approver decided (reason, note, acceptance date, conditions): the
    -- second approval completes exactly that.
    payload jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    first_by uuid NOT NULL REFERENCES users (id),
    first_by_label text NOT NULL,
    first_at timestamptz NOT NULL DEFAULT now(),
    second_by uuid REFERENCES users (id),
    second_by_label text,
    second_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CHECK (second_by IS NULL OR second_by <> first_by)
);
-- One open decision per entity and kind: two first approvals at once make one pending row.
CREATE UNIQUE INDEX pending_decisions_open_key ON pending_decisions (decision, entity_id)
    WHERE status = 'pending';
-- GET /api/v1/approvals pages newest first, by status and by partner.
CREATE INDEX pending_decisions_status_idx ON pending_decisions (status, created_at DESC, id DESC);
CREATE INDEX pending_decisions_partner_idx ON pending_decisions (partner_id, created_at DESC, id DESC);
