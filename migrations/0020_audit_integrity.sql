-- The audit trail cannot be rewritten by the service, and its head is signed outside it.

-- Scheme 1 hashed the values the writer held; scheme 2 hashes the jsonb text as stored
-- (see vendor_risk/audit/chain.py). Earlier events keep scheme 1 and still verify.
ALTER TABLE audit_events ADD COLUMN hash_scheme smallint NOT NULL DEFAULT 1;

-- Append-only: an UPDATE, DELETE or TRUNCATE of an audit event is refused. Whoever can
-- disable the trigger can rewrite the chain; the signed checkpoints kept outside the
-- database are what reveal that.
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Signed heads: "event seq had this hash at signed_at", Ed25519 over the canonical JSON
-- of (seq, hash, signed_at, key_id). Copies go to the auditors by email and webhook and
-- to a file when configured; this table is a convenience for verify, not the proof.
CREATE TABLE audit_checkpoints (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id text NOT NULL,
    public_key text NOT NULL,
    signature text NOT NULL
);
CREATE INDEX audit_checkpoints_seq_idx ON audit_checkpoints (seq DESC);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();

-- Every scheduled verify, so that a failure can be shown (dashboard) and not only logged.
CREATE TABLE audit_verify_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    events_checked bigint NOT NULL,
    checkpoints_checked integer NOT NULL,
    ok boolean NOT NULL,
    break_count integer NOT NULL,
    -- The first breaks, [{seq, until, reason}], as verify printed them.
    breaks jsonb NOT NULL
);
CREATE INDEX audit_verify_runs_latest_idx ON audit_verify_runs (finished_at DESC);
