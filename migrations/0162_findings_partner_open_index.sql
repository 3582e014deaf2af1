-- A partner's open findings, counted per row by the partner register, the partner list and
-- the rating inputs, from the index alone: the partner index read every finding's row to
-- check its status, most of the register's disk reads at 1M findings.
CREATE INDEX findings_partner_open_idx ON findings (partner_id) INCLUDE (severity)
    WHERE status IN ('open', 'remediating', 'verifying');
