-- Migration 7 (issue 21): offline alerts, as SQLite's migration 0015 (ARCHITECTURE.md "Alerts").
-- alert_state: per device, the liveness last alerted (0 online, 1 overdue, 2 offline; NULL not
-- judged yet: its first judgement alerts nothing), the lastseen it was judged at, and due, the
-- time from which it may have changed without being seen (NULL: offline, it changes only by
-- being seen). A table of its own, so that devices keeps no index on anything a heartbeat writes
-- (its HOT update) and a heartbeat writes nothing here.
CREATE TABLE alert_state (
    deviceid text   COLLATE "C" PRIMARY KEY REFERENCES devices ON DELETE CASCADE,
    liveness smallint,
    lastseen bigint NOT NULL DEFAULT 0,
    due      bigint
);
CREATE INDEX alert_state_due ON alert_state (due) WHERE due IS NOT NULL;
CREATE INDEX alert_state_down ON alert_state (deviceid, lastseen) WHERE liveness > 0;
INSERT INTO alert_state (deviceid, due) SELECT deviceid, 0 FROM devices;
-- Every new device gets its row, whichever statement inserts it (once per statement: a bulk load
-- of a million devices is one insert here).
CREATE FUNCTION provd_alert_state_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_state (deviceid, due) SELECT deviceid, 0 FROM new_devices;
    RETURN NULL;
END $$;
CREATE TRIGGER devices_alert_state AFTER INSERT ON devices REFERENCING NEW TABLE AS new_devices
    FOR EACH STATEMENT EXECUTE FUNCTION provd_alert_state_new();

-- The outbox: alerts not delivered yet, in id order; delivered (or refused) ones are deleted and
-- counted in alert_counts. subject orders them: one subject's alerts go out one after another.
CREATE TABLE alerts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject       text   COLLATE "C" NOT NULL,
    kind          text   COLLATE "C" NOT NULL,
    at            bigint NOT NULL,
    name          text   COLLATE "C",
    liveness_from text   COLLATE "C",
    liveness_to   text   COLLATE "C",
    lastseen      bigint,
    detail        text,
    attempts      integer NOT NULL DEFAULT 0,
    next_at       bigint  NOT NULL DEFAULT 0
);
CREATE INDEX alerts_by_subject ON alerts (subject, id);
CREATE TABLE alert_counts (
    one    integer PRIMARY KEY CHECK (one = 1),
    sent   bigint NOT NULL,
    failed bigint NOT NULL
);
INSERT INTO alert_counts VALUES (1, 0, 0);
