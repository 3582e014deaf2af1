-- Partner registry: partners and contacts, data categories, encrypted documents,
-- agreements, data-sharing scopes, sub-processors and impact assessments.

-- Name search. pg_trgm is not available everywhere the service runs (the embedded
-- PostgreSQL has no contrib modules) and extracts no trigram from a two-character
-- Chinese query such as 金蝶, the usual case. Single characters and character pairs
-- ("grams") in a GIN-indexed array serve every script, and need no extension: a query's
-- pairs must all be present, then the exact substring is rechecked.
CREATE FUNCTION search_grams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT g), '{}')
    FROM (SELECT lower(value) AS s) AS v,
         generate_series(1, char_length(v.s)) AS i,
         LATERAL (VALUES (substr(v.s, i, 1)), (substr(v.s, i, 2))) AS t(g)
    WHERE g !~ '\s'
$$;

-- The grams a query must match: its pairs, or the single character of a one-character query.
CREATE FUNCTION search_query_grams(query text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN char_length(q) <= 1 THEN ARRAY[q]
        ELSE coalesce(
            (SELECT array_agg(DISTINCT substr(q, i, 2))
             FROM generate_series(1, char_length(q) - 1) AS i
             WHERE substr(q, i, 2) !~ '\s'),
            '{}')
    END
    FROM (SELECT lower(btrim(query)) AS q) AS v
$$;

CREATE TABLE partners (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    legal_name text NOT NULL,
    -- Normalized 统一社会信用代码; a foreign partner gives country + registration number.
    credit_code text,
    registration_number text,
    country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    website text,
    domain text,
    services text[] NOT NULL DEFAULT '{}',
    business_criticality text NOT NULL
        CHECK (business_criticality IN ('low', 'medium', 'high', 'critical')),
    owner_id uuid REFERENCES users (id),
    status text NOT NULL DEFAULT 'proposed' CHECK (status IN
        ('proposed', 'onboarding', 'active', 'suspended', 'offboarding', 'offboarded')),
    status_reason text,
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    -- Derived from scopes and criticality by the rules, stored so lists can filter on it.
    tier text NOT NULL DEFAULT 'low' CHECK (tier IN ('low', 'medium', 'high', 'critical')),
    tier_points integer NOT NULL DEFAULT 0,
    tier_factors jsonb NOT NULL DEFAULT '[]',
    tier_changed_at timestamptz,
    -- Set when the tier rises (or another trigger fires); cleared by an approved assessment.
    reassessment_due_at timestamptz,
    reassessment_due_reason text,
    -- Whether any scope was ever approved: client data may have left, so offboarding
    -- needs the attestation that it was returned or destroyed.
    ever_shared_data boolean NOT NULL DEFAULT false,
    search_grams text[] GENERATED ALWAYS AS (search_grams(name || ' ' || legal_name)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
-- A legal id is unique among partners we still deal with; a former partner that comes
-- back is a new record, its history kept on the old one.
CREATE UNIQUE INDEX partners_credit_code_key ON partners (credit_code)
    WHERE credit_code IS NOT NULL AND status <> 'offboarded';
CREATE UNIQUE INDEX partners_registration_key ON partners (country, lower(registration_number))
    WHERE registration_number IS NOT NULL AND status <> 'offboarded';
-- Lists page newest first by (created_at, id); one index per filter keeps every page cheap.
CREATE INDEX partners_created_idx ON partners (created_at DESC, id DESC);
CREATE INDEX partners_status_idx ON partners (status, created_at DESC, id DESC);
CREATE INDEX partners_tier_idx ON partners (tier, created_at DESC, id DESC);
CREATE INDEX partners_owner_idx ON partners (owner_id, created_at DESC, id DESC);
CREATE INDEX partners_search_idx ON partners USING gin (search_grams);
CREATE INDEX partners_reassessment_due_idx ON partners (reassessment_due_at)
    WHERE reassessment_due_at IS NOT NULL;

CREATE TABLE partner_contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name text NOT NULL,
    email text NOT NULL,
    phone text,
    role text,
    is_primary boolean NOT NULL DEFAULT false,
    locale text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_contacts_partner_idx ON partner_contacts (partner_id, position);

CREATE TABLE data_categories (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,62}$'),
    name_zh text NOT NULL,
    name_en text NOT NULL,
    description_zh text NOT NULL DEFAULT '',
    description_en text NOT NULL DEFAULT '',
    sensitivity text NOT NULL CHECK (sensitivity IN
        ('public', 'internal', 'confidential', 'personal', 'sensitive_personal')),
    builtin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);

-- Signed agreements and, later, assessment evidence: AES-256-GCM under the data key
-- named by key_id (so keys can rotate), bound to the row id as associated data.
CREATE TABLE documents (
    id uuid PRIMARY KEY,
    purpose text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    key_id text NOT NULL,
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    uploaded_by uuid REFERENCES users (id),
    uploaded_by_label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_key_idx ON documents (key_id);

CREATE TABLE agreements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    kind text NOT NULL CHECK (kind IN ('nda', 'dpa', 'msa', 'sla')),
    title text NOT NULL,
    reference text,
    signed_on date NOT NULL,
    effective_from date NOT NULL,
    expires_on date,
    signatories jsonb NOT NULL DEFAULT '[]',
    -- PIPL art. 21 clauses a DPA contains; a DPA lacking one is saved but flagged.
    clauses text[] NOT NULL DEFAULT '{}',
    notes text NOT NULL DEFAULT '',
    document_id uuid REFERENCES documents (id),
    terminated_at timestamptz,
    termination_reason text,
    terminated_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CHECK (expires_on IS NULL OR expires_on >= effective_from)
);
CREATE INDEX agreements_partner_idx ON agreements (partner_id, created_at DESC, id DESC);
CREATE INDEX agreements_expiry_idx ON agreements (expires_on) WHERE terminated_at IS NULL;

CREATE TABLE agreement_categories (
    agreement_id uuid NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    category_id uuid NOT NULL REFERENCES data_categories (id),
    PRIMARY KEY (agreement_id, category_id)
);
CREATE INDEX agreement_categories_category_idx ON agreement_categories (category_id);

CREATE TABLE sub_processors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    name text NOT NULL,
    country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    receives text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decision_note text,
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX sub_processors_partner_idx ON sub_processors (partner_id, created_at);

CREATE TABLE scopes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    category_id uuid NOT NULL REFERENCES data_categories (id),
    purpose text NOT NULL,
    processing_methods text[] NOT NULL
        CHECK (cardinality(processing_methods) > 0
               AND processing_methods <@ ARRAY['store', 'process', 'access_remotely', 'transmit']),
    transfer_method text NOT NULL,
    starts_on date NOT NULL,
    ends_on date,
    retention_days integer NOT NULL CHECK (retention_days >= 0),
    volume_band text NOT NULL
        CHECK (volume_band IN ('under_1k', '1k_10k', '10k_100k', '100k_1m', 'over_1m')),
    cross_border boolean NOT NULL DEFAULT false,
    sub_processing_allowed boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'approved', 'suspended', 'revoked', 'expired')),
    status_reason text,
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX scopes_partner_idx ON scopes (partner_id, created_at, id);
CREATE INDEX scopes_category_idx ON scopes (category_id);
CREATE INDEX scopes_requested_idx ON scopes (created_at) WHERE status = 'requested';
CREATE INDEX scopes_end_idx ON scopes (ends_on) WHERE status = 'approved';

CREATE TABLE scope_sub_processors (
    scope_id uuid NOT NULL REFERENCES scopes (id) ON DELETE CASCADE,
    sub_processor_id uuid NOT NULL REFERENCES sub_processors (id),
    PRIMARY KEY (scope_id, sub_processor_id)
);
CREATE INDEX scope_sub_processors_sp_idx ON scope_sub_processors (sub_processor_id);

-- Personal information protection impact assessments (PIPL art. 55), kept at least three
-- years (art. 56): immutable, and not deletable before retain_until.
CREATE TABLE impact_assessments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    purpose text NOT NULL,
    necessity text NOT NULL,
    risks text NOT NULL,
    measures text NOT NULL,
    conclusion text NOT NULL,
    outcome text NOT NULL
        CHECK (outcome IN ('acceptable', 'acceptable_with_conditions', 'not_acceptable')),
    assessor text NOT NULL,
    assessed_on date NOT NULL,
    retain_until date NOT NULL CHECK (retain_until >= assessed_on + interval '3 years'),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id)
);
CREATE INDEX impact_assessments_partner_idx ON impact_assessments (partner_id, assessed_on DESC);

CREATE TABLE impact_assessment_scopes (
    impact_assessment_id uuid NOT NULL REFERENCES impact_assessments (id),
    scope_id uuid NOT NULL REFERENCES scopes (id),
    PRIMARY KEY (impact_assessment_id, scope_id)
);
CREATE INDEX impact_assessment_scopes_scope_idx ON impact_assessment_scopes (scope_id);

CREATE FUNCTION impact_assessments_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'impact assessments are immutable (PIPL art. 56)';
    END IF;
    IF OLD.retain_until > current_date THEN
        RAISE EXCEPTION 'impact assessment % must be kept until %', OLD.id, OLD.retain_until;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER impact_assessments_keep BEFORE UPDATE OR DELETE ON impact_assessments
    FOR EACH ROW EXECUTE FUNCTION impact_assessments_keep();

-- A reference list fit for a bookkeeping agency (代理记账). Financial accounts and
-- identity numbers are sensitive personal information (PIPL art. 28); tax-filing
-- credentials act in the client's name, so they sit at the top of the scale too.
INSERT INTO data_categories (code, name_zh, name_en, description_zh, description_en, sensitivity, builtin)
VALUES
    ('client_identity_documents', '客户身份证件', 'Client identity documents',
     '法定代表人、股东、个体工商户经营者的身份证件及复印件',
     'Identity cards and copies of legal representatives, shareholders and sole proprietors',
     'sensitive_personal', true),
    ('taxpayer_ids', '纳税人识别号', 'Taxpayer identification numbers',
     '企业及个人纳税人识别号；个人的识别号即身份证号码',
     'Taxpayer identification numbers of companies and individuals; an individual''s is the ID number',
     'sensitive_personal', true),
    ('bank_accounts', '银行账户及流水', 'Bank accounts and statements',
     '银行账号、开户信息、对账单及流水',
     'Bank account numbers, account opening details, statements and transactions',
     'sensitive_personal', true),
    ('financial_statements', '财务报表及账套', 'Financial statements and ledgers',
     '财务报表、总账明细账、记账凭证及账套数据',
     'Financial statements, general and subsidiary ledgers, vouchers and ledger sets (账套)',
     'confidential', true),
    ('payroll_employee_data', '工资及员工个人信息', 'Payroll and employee personal data',
     '员工花名册、工资表、个税申报明细、银行卡号',
     'Employee rosters, payroll, individual income tax details, bank card numbers',
     'sensitive_personal', true),
    ('invoices', '发票', 'Invoices',
     '开具及取得的发票、发票清单',
     'Issued and received invoices and invoice lists',
     'confidential', true),
    ('contracts', '合同', 'Contracts',
     '客户的购销、租赁、借款等合同',
     'Client contracts: sales, purchases, leases, loans',
     'confidential', true),
    ('tax_filing_credentials', '报税凭证及数字证书', 'Tax-filing credentials and digital certificates',
     '电子税务局账号密码、税务UKey、CA证书、银行U盾',
     'E-tax bureau logins, tax UKeys, CA certificates, bank U-shields',
     'sensitive_personal', true),
    ('social_insurance', '社保及公积金数据', 'Social insurance and housing fund data',
     '社保、医保及公积金缴纳明细',
     'Social, medical insurance and housing fund contribution records',
     'sensitive_personal', true),
    ('shareholder_information', '股东信息', 'Shareholder information',
     '股东名册、出资比例、实际控制人信息',
     'Shareholder registers, capital contributions, beneficial owners',
     'personal', true),
    ('client_contact_details', '客户联系方式', 'Client contact details',
     '客户联系人姓名、电话、邮箱、地址',
     'Names, phone numbers, email and postal addresses of client contacts',
     'personal', true),
    ('tax_returns', '纳税申报资料', 'Tax returns',
     '增值税、企业所得税等申报表及附表',
     'VAT, corporate income tax and other returns with their schedules',
     'confidential', true),
    ('internal_business_data', '内部业务数据', 'Internal business data',
     '本所的内部管理、经营及系统数据',
     'The firm''s own management, operational and system data',
     'internal', true),
    ('public_information', '公开信息', 'Public information',
     '工商登记公示信息等公开资料',
     'Published business registration details and other public material',
     'public', true);
