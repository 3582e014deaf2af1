-- Re-registering a legal id warns with the history of the former partners that held it
-- (offboarded, with their incidents): looked up through these.
CREATE INDEX partners_offboarded_credit_code_idx ON partners (credit_code)
    WHERE credit_code IS NOT NULL AND status = 'offboarded';
CREATE INDEX partners_offboarded_registration_idx ON partners (country, lower(registration_number))
    WHERE registration_number IS NOT NULL AND status = 'offboarded';
