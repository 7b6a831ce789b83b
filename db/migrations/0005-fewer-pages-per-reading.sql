-- Migration 5: a reading writes fewer pages. Its uniqueness per device, epoch and SEQN is the
-- SEQN check's (devices.last_seqn, read and moved in the insert's transaction), so that index
-- goes; retention walks readings in id (arrival) order, so the index of all receive times goes.
CREATE TABLE readings (
    id          INTEGER PRIMARY KEY,
    device      INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL DEFAULT 0,
    seqn        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    ts          INTEGER,
    data        TEXT    NOT NULL
);
INSERT INTO readings (id, device, epoch, seqn, received_at, ts, data)
    SELECT id, device, epoch, seqn, received_at, ts, data FROM telemetry ORDER BY id;
DROP TABLE telemetry;
ALTER TABLE readings RENAME TO telemetry;
CREATE INDEX telemetry_by_time ON telemetry (device, received_at);
