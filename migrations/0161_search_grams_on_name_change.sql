-- `partners.search_grams` was a stored generated column, and PostgreSQL recomputes those on
-- every UPDATE of the row, whatever it changes: a rating, a status or a version bump paid
-- for splitting the names into grams again (half a millisecond a row; most of the rating
-- sweep's first run at 100k partners). The same value is now kept by triggers that run only
-- when a name changes (or something writes the column itself).
ALTER TABLE partners ALTER COLUMN search_grams DROP EXPRESSION;

CREATE FUNCTION partners_search_grams() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_grams := search_grams(NEW.name || ' ' || NEW.legal_name);
    RETURN NEW;
END $$;

CREATE TRIGGER partners_search_grams_insert BEFORE INSERT ON partners
    FOR EACH ROW EXECUTE FUNCTION partners_search_grams();
CREATE TRIGGER partners_search_grams_update BEFORE UPDATE OF name, legal_name, search_grams ON partners
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.legal_name IS DISTINCT FROM NEW.legal_name
          OR OLD.search_grams IS DISTINCT FROM NEW.search_grams)
    EXECUTE FUNCTION partners_search_grams();
