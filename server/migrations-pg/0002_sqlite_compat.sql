-- SQLite's functions that the server's queries call, under the same names,
-- so that each query is written once (server/src/db/sql.rs translates only
-- placeholders and a few spellings). Each returns what SQLite's returns for
-- the arguments the queries pass; none is meant for other uses.

-- hex(randomblob(n)): n random bytes, as upper-case hex (queries lower() it).
-- The bytes come from anfang_random_hex (gen_random_uuid, the OS CSPRNG).
CREATE FUNCTION randomblob(n_bytes integer) RETURNS bytea
    LANGUAGE sql VOLATILE
    AS $$ SELECT decode(anfang_random_hex(n_bytes), 'hex') $$;

CREATE FUNCTION hex(b bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT upper(encode(b, 'hex')) $$;

-- unixepoch('subsec'): seconds since 1970 with a fractional part, from the
-- database server's clock (the job leases' one shared clock).
CREATE FUNCTION unixepoch(modifier text) RETURNS double precision
    LANGUAGE sql VOLATILE
    AS $$ SELECT extract(epoch FROM clock_timestamp())::double precision $$;

-- json_extract(doc, '$.key') for one level of keys, as text (NULL when the
-- key is missing or null). The queries compare it with text ids and keys.
CREATE FUNCTION json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT (doc::jsonb) #>> string_to_array(substr(path, 3), '.') $$;

-- json_each(array_text): the elements of a JSON array of strings, as SQLite's
-- table-valued json_each gives them (key = 0-based position, value = text).
-- PostgreSQL's own json_each takes json, not text, so the two do not clash.
CREATE FUNCTION json_each(doc text) RETURNS TABLE (key bigint, value text)
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT (ordinality - 1)::bigint, elem
          FROM json_array_elements_text(doc::json) WITH ORDINALITY AS e(elem, ordinality) $$;

-- max(a, b) and min(a, b), SQLite's scalar two-argument forms.
CREATE FUNCTION max(a bigint, b bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT greatest(a, b) $$;

CREATE FUNCTION min(a bigint, b bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT least(a, b) $$;
