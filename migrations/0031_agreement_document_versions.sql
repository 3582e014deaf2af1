-- Every signed document an agreement ever had, numbered 1, 2, … in upload order: a
-- replaced document stays reachable (auditors list and download each version).
CREATE TABLE agreement_documents (
    agreement_id uuid NOT NULL REFERENCES agreements (id),
    version integer NOT NULL CHECK (version >= 1),
    document_id uuid NOT NULL UNIQUE REFERENCES documents (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agreement_id, version)
);

-- The versions uploaded before this table existed, from the audit trail (each upload
-- recorded the document it attached), then any current document the trail does not name.
INSERT INTO agreement_documents (agreement_id, version, document_id, created_at)
SELECT agreement_id, row_number() OVER (PARTITION BY agreement_id ORDER BY first_seq), document_id, uploaded_at
FROM (
    SELECT a.id AS agreement_id, d.id AS document_id, min(e.seq) AS first_seq, d.created_at AS uploaded_at
    FROM audit_events e
    JOIN agreements a ON a.id::text = e.entity_id
    JOIN documents d ON d.id::text = e.after -> 'document' ->> 'id'
    WHERE e.entity_type = 'agreement' AND e.action = 'agreement.document_uploaded'
    GROUP BY a.id, d.id, d.created_at
) uploads;

INSERT INTO agreement_documents (agreement_id, version, document_id, created_at)
SELECT a.id,
       coalesce((SELECT max(v.version) FROM agreement_documents v WHERE v.agreement_id = a.id), 0) + 1,
       a.document_id, d.created_at
FROM agreements a JOIN documents d ON d.id = a.document_id
WHERE NOT EXISTS (SELECT 1 FROM agreement_documents v WHERE v.document_id = a.document_id);
