-- Migration 3: after an admin's SEQN reset a device counts from the start again, so a reading is
-- unique per device, reset epoch and SEQN (no longer per device and SEQN), and has an id of its
-- own: readings are ordered by receive time and then id, and the id is the cursor of pages.
ALTER TABLE devices ADD COLUMN seqn_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE readings (
    id          INTEGER PRIMARY KEY,
    device      INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL DEFAULT 0,
    seqn        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    ts          INTEGER,
    data        TEXT    NOT NULL,
    UNIQUE (device, epoch, seqn)
);
INSERT INTO readings (device, seqn, received_at, ts, data)
    SELECT device, seqn, received_at, ts, data FROM telemetry ORDER BY device, seqn;
DROP TABLE telemetry;
ALTER TABLE readings RENAME TO telemetry;
CREATE INDEX telemetry_by_time ON telemetry (device, received_at);
CREATE INDEX telemetry_received ON telemetry (received_at);
