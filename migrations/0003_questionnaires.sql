-- Questionnaire template versions: each file of questionnaires/ as it was loaded.
-- Assessments reference a row by id and keep it for good, so a row is never updated or
-- deleted: a changed questionnaire is a new row with a higher version.
CREATE TABLE questionnaire_templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key text NOT NULL CHECK (key ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    version integer NOT NULL CHECK (version >= 1),
    title_zh text NOT NULL,
    title_en text NOT NULL,
    section_count integer NOT NULL,
    question_count integer NOT NULL,
    -- The decoded template (vendor_risk.questionnaires.models.Template) and the SHA-256 of
    -- its canonical JSON, which decides whether a file changed.
    content jsonb NOT NULL,
    content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (key, version)
);

CREATE FUNCTION questionnaire_templates_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'questionnaire template versions are immutable: load a higher version';
END
$$;

CREATE TRIGGER questionnaire_templates_immutable
    BEFORE UPDATE OR DELETE ON questionnaire_templates
    FOR EACH ROW EXECUTE FUNCTION questionnaire_templates_immutable();

CREATE TRIGGER questionnaire_templates_no_truncate
    BEFORE TRUNCATE ON questionnaire_templates
    FOR EACH STATEMENT EXECUTE FUNCTION questionnaire_templates_immutable();
