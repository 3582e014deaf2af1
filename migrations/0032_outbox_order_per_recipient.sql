-- Messages to one recipient (an inbox, a webhook subscription) are delivered in the order
-- they were written: only the oldest pending message of a recipient can be claimed. After
-- a resend, the newest invitation is then always the last to arrive, with the live link.
-- `seq` is the order of writing (created_at ties within a transaction); `recipient` is
-- set by the trigger from the webhook or the payload's `to`, unless the insert names it.
ALTER TABLE outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE outbox ADD COLUMN recipient text;

UPDATE outbox SET recipient = CASE
    WHEN webhook_id IS NOT NULL THEN 'webhook:' || webhook_id
    ELSE 'email:' || lower(payload ->> 'to') END;

CREATE FUNCTION outbox_set_recipient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.recipient IS NULL THEN
        NEW.recipient := CASE
            WHEN NEW.webhook_id IS NOT NULL THEN 'webhook:' || NEW.webhook_id
            ELSE 'email:' || lower(NEW.payload ->> 'to') END;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER outbox_set_recipient BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_set_recipient();

CREATE INDEX outbox_pending_recipient_idx ON outbox (recipient, seq) WHERE status = 'pending';
