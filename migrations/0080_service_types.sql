-- Policy (issue 15): what a partner does for the firm decides which questionnaire sections
-- it is asked (policy.yaml maps tier × service type to questionnaires), and an assessment
-- keeps the sections it was sent with, so a later change to the partner does not change
-- what it is asked mid-way.
ALTER TABLE partners ADD COLUMN service_types text[] NOT NULL DEFAULT '{}'
    CHECK (service_types <@ ARRAY['tax_agent', 'payroll_social_insurance', 'cloud_saas',
                                  'it_outsourcing', 'printing', 'courier_archiving', 'other']::text[]);
-- The partner list filters on service type.
CREATE INDEX partners_service_types_idx ON partners USING gin (service_types);

-- The section ids of the questionnaire version sent; NULL (assessments sent before this
-- migration) means every section.
ALTER TABLE assessment_parts ADD COLUMN sections text[];
