-- Incidents run by playbooks: steps with owners and deadlines, an append-only timeline,
-- the PIPL art. 57 notification record, automatic actions and escalations.

CREATE TABLE incidents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id uuid NOT NULL REFERENCES partners (id),
    title text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    -- Procurement reports 'suspected'; a risk owner confirms ('open') or dismisses it.
    status text NOT NULL CHECK (status IN ('suspected', 'open', 'closed', 'dismissed')),
    detected_at timestamptz NOT NULL,
    description text NOT NULL DEFAULT '',
    -- data_categories.code values: what leaked, as far as is known.
    affected_categories text[] NOT NULL DEFAULT '{}',
    playbook_key text NOT NULL,
    playbook_version integer NOT NULL,
    -- The playbook as it was when the incident opened: a later version never changes a
    -- running incident, and the incident can be read without the file.
    playbook jsonb NOT NULL,
    -- Where each escalation level starts, measured from a step's deadline (level 1 at 0).
    escalation_offsets interval[] NOT NULL,
    -- The earliest deadline of a pending step, kept by the service: the overdue filter.
    next_due_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    created_by_label text NOT NULL,
    confirmed_at timestamptz,
    closed_at timestamptz,
    closed_by uuid REFERENCES users (id),
    close_note text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
-- Lists page newest first by (created_at, id); one index per filter.
CREATE INDEX incidents_created_idx ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_status_idx ON incidents (status, created_at DESC, id DESC);
CREATE INDEX incidents_severity_idx ON incidents (severity, created_at DESC, id DESC);
CREATE INDEX incidents_partner_idx ON incidents (partner_id, created_at DESC, id DESC);
CREATE INDEX incidents_overdue_idx ON incidents (next_due_at)
    WHERE status IN ('suspected', 'open');

CREATE TABLE incident_steps (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    step_id text NOT NULL,
    position integer NOT NULL CHECK (position >= 0),
    -- {"zh-CN": …, "en": …}
    title jsonb NOT NULL,
    instructions jsonb NOT NULL,
    owner_role text NOT NULL CHECK (owner_role IN ('admin', 'procurement', 'risk_owner', 'auditor')),
    depends_on text[] NOT NULL DEFAULT '{}',
    due_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'skipped')),
    completed_at timestamptz,
    completed_by uuid REFERENCES users (id),
    completed_by_label text,
    note text NOT NULL DEFAULT '',
    evidence text[] NOT NULL DEFAULT '{}',
    skip_reason text,
    -- The escalation level reached so far and when the next one is due; the minute sweep
    -- reads only pending steps whose next escalation has come.
    escalation_level integer NOT NULL DEFAULT 0,
    next_escalation_at timestamptz,
    PRIMARY KEY (incident_id, step_id),
    UNIQUE (incident_id, position),
    CHECK (status <> 'skipped' OR skip_reason IS NOT NULL)
);
CREATE INDEX incident_steps_escalation_idx ON incident_steps (next_escalation_at)
    WHERE status = 'pending' AND next_escalation_at IS NOT NULL;

-- Everything that happened to an incident, in order. Rows are only ever added: the
-- trigger below refuses UPDATE, DELETE and TRUNCATE, whoever asks.
CREATE TABLE incident_timeline (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid REFERENCES users (id),
    actor_label text NOT NULL,
    kind text NOT NULL,
    step_id text,
    -- {"zh-CN": …, "en": …}: one line a person reads.
    summary jsonb NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_timeline_incident_idx ON incident_timeline (incident_id, seq);

CREATE FUNCTION incident_timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the incident timeline is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER incident_timeline_append_only BEFORE UPDATE OR DELETE ON incident_timeline
    FOR EACH ROW EXECUTE FUNCTION incident_timeline_append_only();
CREATE TRIGGER incident_timeline_no_truncate BEFORE TRUNCATE ON incident_timeline
    FOR EACH STATEMENT EXECUTE FUNCTION incident_timeline_append_only();

-- The PIPL art. 57 notification record: one per incident, replaced whole on each save.
CREATE TABLE incident_notification_records (
    incident_id uuid PRIMARY KEY REFERENCES incidents (id),
    categories text[] NOT NULL DEFAULT '{}',
    persons_affected_approx integer CHECK (persons_affected_approx >= 0),
    affected_persons text NOT NULL DEFAULT '',
    cause text NOT NULL DEFAULT '',
    possible_harm text NOT NULL DEFAULT '',
    remedial_measures text NOT NULL DEFAULT '',
    individual_measures text NOT NULL DEFAULT '',
    contact text NOT NULL DEFAULT '',
    authority_name text NOT NULL DEFAULT '',
    authority_notified_at timestamptz,
    authority_notified_how text NOT NULL DEFAULT '',
    persons_notified_at timestamptz,
    persons_notified_how text NOT NULL DEFAULT '',
    persons_not_notified_reason text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid REFERENCES users (id),
    updated_by_label text NOT NULL,
    version integer NOT NULL DEFAULT 1
);

-- The playbook's automatic actions, queued when their moment comes and run by the worker.
CREATE TABLE incident_action_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid NOT NULL,
    step_id text NOT NULL,
    action_index integer NOT NULL CHECK (action_index >= 0),
    action text NOT NULL CHECK (action IN
        ('suspend_scopes', 'revoke_portal_links', 'suspend_partner', 'send_triggered_assessment', 'notify')),
    -- The action as the playbook states it (its parameters).
    params jsonb NOT NULL,
    -- incident:step:index. However often the moment is seen (a retry, two workers), the
    -- action is queued once.
    idempotency_key text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    outcome jsonb,
    requested_by uuid REFERENCES users (id),
    requested_by_label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    FOREIGN KEY (incident_id, step_id) REFERENCES incident_steps (incident_id, step_id)
);
CREATE INDEX incident_action_runs_due_idx ON incident_action_runs (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX incident_action_runs_incident_idx ON incident_action_runs (incident_id, step_id, action_index);

-- One row per step and escalation level: the unique index makes a second escalation of
-- the same level impossible, however many sweeps and workers run.
CREATE TABLE incident_escalations (
    incident_id uuid NOT NULL,
    step_id text NOT NULL,
    level integer NOT NULL CHECK (level >= 1),
    roles text[] NOT NULL,
    escalated_at timestamptz NOT NULL,
    FOREIGN KEY (incident_id, step_id) REFERENCES incident_steps (incident_id, step_id)
);
CREATE UNIQUE INDEX incident_escalations_once_key ON incident_escalations (incident_id, step_id, level);
