-- Partners' security certificates (ISO/IEC 27001, 等保备案证明 and 测评报告, SOC 2, other),
-- uploaded from self-service: the file is an encrypted document like a signed agreement;
-- staff verify or reject each; expiry is swept like agreements' (notices keys).
CREATE TABLE certificates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    kind text NOT NULL CHECK (kind IN ('iso27001', 'mlps_filing', 'mlps_evaluation', 'soc2', 'other')),
    issuer text NOT NULL,
    number text NOT NULL,
    scope text NOT NULL,
    issued_on date,
    expires_on date NOT NULL,
    document_id uuid NOT NULL REFERENCES documents (id),
    status text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'verified', 'rejected')),
    decision_note text NOT NULL DEFAULT '',
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    uploaded_by_label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CHECK (issued_on IS NULL OR issued_on <= expires_on)
);
CREATE INDEX certificates_partner_idx ON certificates (partner_id, created_at DESC, id DESC);
-- The expiry sweep and the activation gate read live certificates by their end.
CREATE INDEX certificates_expiry_idx ON certificates (expires_on) WHERE status <> 'rejected';
