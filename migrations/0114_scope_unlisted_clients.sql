-- Clients a scope carries but the register does not list by name (e.g. "about 3,000
-- individual clients' payroll data"): an approximate count kept on the scope, added to the
-- listed clients in an incident's affected clients and its art. 57 record. NULL: none stated.
ALTER TABLE scopes ADD COLUMN unlisted_clients_approx integer
    CHECK (unlisted_clients_approx BETWEEN 0 AND 100000000);
