-- The incident list and detail show the playbook's title, which lives in each incident's
-- playbook snapshot: a compressed, out-of-line jsonb of every step. `playbook -> 'title'`
-- read and decompressed the whole snapshot for every row, some 30 µs each: 1.5 ms of a
-- 51-row page at 100k partners (issue #16). The title is kept beside it, computed by
-- PostgreSQL from the same snapshot, so it can never disagree with it.
ALTER TABLE incidents ADD COLUMN playbook_title jsonb GENERATED ALWAYS AS (playbook -> 'title') STORED;
