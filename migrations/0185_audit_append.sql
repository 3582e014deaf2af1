-- Appending audit events in one statement, so that the chain's lock is held for that
-- statement and the COMMIT only (issue #16; see vendor_risk/audit/service.py).
--
-- The writer passes each event's canonical JSON in pieces, everything the hash covers but
-- the stored jsonb texts of before/after (PostgreSQL's, made here) and the seq (known only
-- under the lock): canonical = head || after || middle || before || tail || seq || '}'
-- (vendor_risk.audit.chain.canonical_pieces). The hash is the one verify recomputes:
-- SHA-256 over the previous hash and those bytes.
CREATE FUNCTION audit_append(
    lock_id bigint,
    heads text[],
    middles text[],
    tails text[],
    befores text[],
    afters text[],
    ids uuid[],
    occurred timestamptz[],
    actor_ids uuid[],
    actor_labels text[],
    actions text[],
    entity_types text[],
    entity_ids text[],
    scheme smallint
) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    prev text;
    before_text text;
    after_text text;
    next_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_id);
    -- A statement of its own after the lock: in READ COMMITTED it takes a new snapshot,
    -- which holds the event the previous holder of the lock committed.
    SELECT seq, hash INTO head_seq, prev FROM audit_events ORDER BY seq DESC LIMIT 1;
    head_seq := coalesce(head_seq, 0);
    prev := coalesce(prev, repeat('0', 64));
    FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
        before_text := befores[i]::jsonb::text;
        after_text := afters[i]::jsonb::text;
        next_hash := encode(sha256(convert_to(
            prev || heads[i] || coalesce(after_text, 'null') || middles[i]
                || coalesce(before_text, 'null') || tails[i] || (head_seq + i)::text || '}',
            'UTF8')), 'hex');
        INSERT INTO audit_events (seq, id, occurred_at, actor_id, actor_label, action, entity_type,
                                  entity_id, before, after, prev_hash, hash, hash_scheme)
        VALUES (head_seq + i, ids[i], occurred[i], actor_ids[i], actor_labels[i], actions[i],
                entity_types[i], entity_ids[i], before_text::jsonb, after_text::jsonb, prev,
                next_hash, scheme);
        prev := next_hash;
    END LOOP;
    RETURN head_seq + coalesce(array_length(ids, 1), 0);
END;
$$;
