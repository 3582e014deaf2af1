-- A search's pairs are looked up in partners_search_idx before the substring is rechecked
-- (0002). The pairs of a Chinese legal form (有限公司, 股份有限公司, 有限责任公司, 集团) are in
-- almost every legal name, so looking them up reads the whole index for nothing: a search
-- of one full legal name took 1.41 ms at 10k partners and 2.51 ms at 100k, the same name
-- without 有限公司 1.36 and 1.53 ms (issue #16). Those pairs are now left out of the lookup
-- when the query has others; the substring recheck still tests the whole query, so what a
-- search finds is unchanged. A query of nothing but such pairs looks them all up as before.
CREATE OR REPLACE FUNCTION search_query_grams(query text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN char_length(q) <= 1 THEN ARRAY[q]
        ELSE coalesce(
            (SELECT coalesce(array_agg(g) FILTER (WHERE g <> ALL (
                        ARRAY['有限', '限公', '公司', '股份', '份有', '责任', '任公', '集团'])),
                    array_agg(g))
             FROM (SELECT DISTINCT substr(q, i, 2) AS g
                   FROM generate_series(1, char_length(q) - 1) AS i
                   WHERE substr(q, i, 2) !~ '\s') AS pairs),
            '{}')
    END
    FROM (SELECT lower(btrim(query)) AS q) AS v
$$;
