-- Migration 6: heartbeat times apart from the devices. A heartbeat moves one device's time;
-- in its own narrow table a page holds the times of ~340 devices instead of ~40 whole
-- devices, so one batch of a large fleet's heartbeats rewrites several times fewer pages.
-- Every device has its row (0: never seen), so a heartbeat only ever updates one.
CREATE TABLE device_seen (
    device INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    at     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO device_seen (device, at) SELECT id, coalesce(lastseen, 0) FROM devices ORDER BY id;
ALTER TABLE devices DROP COLUMN lastseen;
