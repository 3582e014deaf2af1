-- A client's unified social credit code (company) or ID number (person), optional: the
-- natural key a re-import of the register matches on (else name and contact email).
ALTER TABLE clients ADD COLUMN id_number text CHECK (length(id_number) BETWEEN 1 AND 50);
CREATE UNIQUE INDEX clients_id_number_idx ON clients (id_number) WHERE id_number IS NOT NULL;
CREATE INDEX clients_name_email_idx ON clients (lower(name), lower(contact_email)) WHERE id_number IS NULL;
