-- The firm's own clients (the people and companies whose data partners hold), and which
-- data-sharing scopes carry each one's data: an incident on a partner lists the clients
-- affected across its scopes, for the PIPL art. 57 record and the notices.
CREATE TABLE clients (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('person', 'company')),
    contact_name text NOT NULL DEFAULT '',
    contact_email text NOT NULL DEFAULT '',
    contact_phone text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
-- The register lists by name (keyset over (lower(name), id)).
CREATE INDEX clients_name_idx ON clients (lower(name), id);

CREATE TABLE scope_clients (
    scope_id uuid NOT NULL REFERENCES scopes (id),
    client_id uuid NOT NULL REFERENCES clients (id),
    PRIMARY KEY (scope_id, client_id)
);
CREATE INDEX scope_clients_client_idx ON scope_clients (client_id);
