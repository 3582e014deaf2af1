-- A partner due for a reassessment that the sweep cannot send (no primary contact, no
-- questionnaire the policy selects is loaded, none fits its services) is marked with the
-- reason, shown to staff, and left alone by the hourly sweep until something that could
-- change the answer changes: its contacts, its tier, services or status (cleared here by
-- triggers), a questionnaire loaded (likewise), or another policy (the sweep compares
-- the policy hash it was marked under).
ALTER TABLE partners
    ADD COLUMN reassessment_blocked text
        CHECK (reassessment_blocked IN ('no_primary_contact', 'no_questionnaire', 'no_fitting_section')),
    ADD COLUMN reassessment_blocked_at timestamptz,
    ADD COLUMN reassessment_blocked_policy text;

CREATE INDEX partners_reassessment_blocked_idx ON partners (reassessment_blocked_at)
    WHERE reassessment_blocked IS NOT NULL;

CREATE FUNCTION partners_unblock_reassessment() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.tier, NEW.service_types, NEW.status) IS DISTINCT FROM (OLD.tier, OLD.service_types, OLD.status) THEN
        NEW.reassessment_blocked := NULL;
        NEW.reassessment_blocked_at := NULL;
        NEW.reassessment_blocked_policy := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER partners_unblock_reassessment
    BEFORE UPDATE OF tier, service_types, status ON partners
    FOR EACH ROW WHEN (OLD.reassessment_blocked IS NOT NULL)
    EXECUTE FUNCTION partners_unblock_reassessment();

CREATE FUNCTION contacts_unblock_reassessment() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE partners
    SET reassessment_blocked = NULL, reassessment_blocked_at = NULL, reassessment_blocked_policy = NULL
    WHERE reassessment_blocked IS NOT NULL
      AND id IN (SELECT partner_id FROM changed_contacts);
    RETURN NULL;
END;
$$;

CREATE TRIGGER contacts_unblock_reassessment_insert
    AFTER INSERT ON partner_contacts REFERENCING NEW TABLE AS changed_contacts
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_unblock_reassessment();
CREATE TRIGGER contacts_unblock_reassessment_update
    AFTER UPDATE ON partner_contacts REFERENCING NEW TABLE AS changed_contacts
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_unblock_reassessment();
CREATE TRIGGER contacts_unblock_reassessment_delete
    AFTER DELETE ON partner_contacts REFERENCING OLD TABLE AS changed_contacts
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_unblock_reassessment();

CREATE FUNCTION templates_unblock_reassessment() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE partners
    SET reassessment_blocked = NULL, reassessment_blocked_at = NULL, reassessment_blocked_policy = NULL
    WHERE reassessment_blocked IS NOT NULL;
    RETURN NULL;
END;
$$;

CREATE TRIGGER templates_unblock_reassessment
    AFTER INSERT ON questionnaire_templates
    FOR EACH STATEMENT EXECUTE FUNCTION templates_unblock_reassessment();
