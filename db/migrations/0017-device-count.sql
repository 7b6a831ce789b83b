-- Migration 0017: the number of devices in a row of its own, moved by triggers, so that a new
-- device's cap (PROVD_MAX_DEVICES) reads one row instead of counting every device (a walk of a
-- whole index per new device, at a million devices tens of milliseconds). Devices are only ever
-- inserted and deleted by statements that fire these (no REPLACE conflict resolution on devices).
CREATE TABLE device_count (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    devices INTEGER NOT NULL
);
INSERT INTO device_count SELECT 1, count(*) FROM devices;
CREATE TRIGGER device_count_insert AFTER INSERT ON devices
BEGIN
    UPDATE device_count SET devices = devices + 1;
END;
CREATE TRIGGER device_count_delete AFTER DELETE ON devices
BEGIN
    UPDATE device_count SET devices = devices - 1;
END;
