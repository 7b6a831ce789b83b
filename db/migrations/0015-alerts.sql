-- Migration 0015 (issue 21): offline alerts (ARCHITECTURE.md "Alerts").
-- alert_state: per device, the liveness last alerted (0 online, 1 overdue, 2 offline; NULL not
-- judged yet: its first judgement alerts nothing), the lastseen it was judged at, and due, the
-- time from which it may have changed without being seen (online: lastseen + 2 intervals + 10 s;
-- overdue: lastseen + 5 intervals; NULL: offline, it changes only by being seen). The sweep reads
-- the rows due (alert_state_due) and the ones not online seen since (alert_state_down), never
-- the whole fleet, and a heartbeat writes nothing here.
CREATE TABLE alert_state (
    device   INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    liveness INTEGER,
    lastseen INTEGER NOT NULL DEFAULT 0,
    due      INTEGER
);
CREATE INDEX alert_state_due ON alert_state (due) WHERE due IS NOT NULL;
CREATE INDEX alert_state_down ON alert_state (device, lastseen) WHERE liveness > 0;
INSERT INTO alert_state (device, due) SELECT id, 0 FROM devices;
-- Every new device gets its row, whichever statement inserts it.
CREATE TRIGGER devices_alert_state AFTER INSERT ON devices
BEGIN
    INSERT INTO alert_state (device, due) VALUES (new.id, 0);
END;

-- The outbox: alerts not delivered yet, in id order; delivered (or refused) ones are deleted and
-- counted in alert_counts. subject orders them: one subject's alerts go out one after another
-- (a device's id; a future kind names its own subject). next_at: when the next attempt is due.
CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    subject  TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    name     TEXT,
    liveness_from TEXT,
    liveness_to   TEXT,
    lastseen INTEGER,
    detail   TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_by_subject ON alerts (subject, id);
CREATE TABLE alert_counts (
    one    INTEGER PRIMARY KEY CHECK (one = 1),
    sent   INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
INSERT INTO alert_counts VALUES (1, 0, 0);
