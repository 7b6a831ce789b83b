-- provd's PostgreSQL schema, migration 1 of its own series (db/pg/NNNN-name.sql, applied in order
-- by lib/store_pg.c; provd_schema records how many have run). Times are Unix seconds (UTC).
-- Every text column is COLLATE "C": sorts and comparisons go by bytes, as SQLite's do. Every
-- primary key holds the device id, so the tables could later be distributed by device.

CREATE TABLE devices (
    deviceid      text   COLLATE "C" PRIMARY KEY,
    name          text   COLLATE "C" NOT NULL DEFAULT '',
    state         text   COLLATE "C" NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'accepted', 'rejected')),
    -- A plain column, 0 for never seen: a heartbeat is one UPDATE of the row it reads anyway
    -- (its 304 needs state and cfgsn), and since no index holds lastseen and the pages keep
    -- room (fillfactor), it is a HOT update that writes no index. A narrow table of its own
    -- would make each heartbeat touch two tables.
    lastseen      bigint NOT NULL DEFAULT 0,
    ssid          text   COLLATE "C" NOT NULL DEFAULT '',
    ipaddr        text   COLLATE "C" NOT NULL DEFAULT '',
    cfgsn         bigint NOT NULL DEFAULT 0,
    cfgsn_applied bigint,
    flags         bigint NOT NULL DEFAULT 0,
    data          text   COLLATE "C" NOT NULL DEFAULT '{}',   -- configuration properties, JSON
    poll_interval bigint,                                    -- seconds; NULL: the server's default
    datec         bigint NOT NULL,
    key           text   COLLATE "C",                        -- telemetry secret; never leaves the server
    last_seqn     bigint,                                    -- NULL: no reading accepted in this epoch
    seqn_epoch    bigint NOT NULL DEFAULT 0                  -- SEQN resets so far
) WITH (fillfactor = 80);

-- The device list sorted by a column pages by (column, deviceid) ranges, as SQLite's migration 4:
-- only columns the admin writes are indexed (lastseen, ipaddr and ssid change with every
-- heartbeat or registration, and an index would take the heartbeat's HOT update away).
CREATE INDEX devices_by_name  ON devices (name, deviceid);
CREATE INDEX devices_by_state ON devices (state, deviceid);
CREATE INDEX devices_by_cfgsn ON devices (cfgsn, deviceid);
CREATE INDEX devices_by_datec ON devices (datec, deviceid);

-- Readings, one partition per UTC day of received_at (telemetry_YYYYMMDD, made ahead by
-- provd_make_partitions()), and a default partition, so that no reading is ever refused for a
-- missing day: a reading for a day with no partition of its own stays in the default one, and
-- retention deletes it from there row by row instead of dropping its day whole.
--
-- A reading is unique per device, epoch and SEQN, but PostgreSQL allows a unique constraint on a
-- partitioned table only if it holds the partition key (received_at), which would not make the
-- triple unique. The invariant is kept instead by the reading's one statement (lib/store_pg.c,
-- PG_READING_ADD): it moves devices.last_seqn up only if the SEQN is above it, and inserts the
-- reading only if it did; the device's row lock orders concurrent senders, and READ COMMITTED
-- re-checks the condition on the row the winner left, so exactly one of them inserts.
CREATE TABLE telemetry (
    id          bigint GENERATED ALWAYS AS IDENTITY,      -- arrival order; the cursor of pages
    deviceid    text   COLLATE "C" NOT NULL REFERENCES devices ON DELETE CASCADE,
    epoch       bigint NOT NULL DEFAULT 0,
    seqn        bigint NOT NULL,
    received_at bigint NOT NULL,
    ts          bigint,                                   -- the device's own clock, if it sent one
    data        text   NOT NULL,                          -- the reading's JSON, exactly as sent
    PRIMARY KEY (deviceid, id, received_at)               -- also the cursor's lookup by (deviceid, id)
) PARTITION BY RANGE (received_at);
CREATE INDEX telemetry_by_time ON telemetry (deviceid, received_at, id);
CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;

CREATE TABLE admin_tokens (
    name    text   COLLATE "C" PRIMARY KEY,
    hash    bytea  NOT NULL UNIQUE,                       -- SHA-256 of the token; the token is never stored
    created bigint NOT NULL
);

-- Makes the day partitions from the day of first_at (yesterday at the earliest) to ahead days
-- after today, by the database's clock, and returns how many it made. Concurrent callers take
-- turns (the advisory lock); a day that exists costs a catalog lookup, no DDL. A day whose
-- readings the default partition already holds is skipped: they stay where they are.
CREATE FUNCTION provd_make_partitions(first_at bigint, ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    day   date := greatest(today - 1, date '1970-01-01' + (first_at / 86400)::integer);
    part  text;
    low   bigint;
    made  integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7073400001);
    WHILE day <= today + ahead LOOP
        part := 'telemetry_' || to_char(day, 'YYYYMMDD');
        low := (day - date '1970-01-01')::bigint * 86400;
        IF to_regclass(quote_ident(part)) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF telemetry FOR VALUES FROM (%s) TO (%s)',
                               part, low, low + 86400);
                made := made + 1;
            EXCEPTION WHEN check_violation THEN
                NULL; -- the default partition holds readings of that day
            END;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN made;
END $$;

-- Drops the day partitions whose every reading was received before `before` (the day's end, from
-- its name, at or before it) and returns how many readings they held.
CREATE FUNCTION provd_drop_partitions(before bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    part  record;
    n     bigint;
    total bigint := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7073400001);
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'telemetry'::regclass AND c.relname ~ '^telemetry_[0-9]{8}$'
          AND (to_date(substr(c.relname, 11), 'YYYYMMDD') - date '1970-01-01')::bigint * 86400 + 86400 <= before
        ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT count(*) FROM %I', part.relname) INTO n;
        EXECUTE format('DROP TABLE %I', part.relname);
        total := total + n;
    END LOOP;
    RETURN total;
END $$;

-- The id of bulk device n (lib/store.c, store_bulk_id()): prefix and n in at least 6 upper-case
-- hex digits, two's complement for a negative n as printf's %llX.
CREATE FUNCTION provd_bulk_id(prefix text, n bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT prefix || lpad(upper(to_hex(n)), greatest(6, length(to_hex(n))), '0')
$$;

-- A JSON number as SQLite reads it into a double: beyond the double's range it is infinite,
-- below its smallest step 0 (PostgreSQL's own cast refuses both).
CREATE FUNCTION provd_json_number(t text) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN n > 1.7976931348623157e308 THEN 'Infinity'::double precision
                WHEN n < -1.7976931348623157e308 THEN '-Infinity'::double precision
                WHEN abs(n) < 2.4703282292062328e-324 THEN 0::double precision
                ELSE n::double precision END
    FROM (SELECT t::numeric AS n) AS v
$$;
