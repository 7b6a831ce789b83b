-- Migration 0012 (issue 19, firmware over the air): images kept once per content, the versions
-- admins upload, and each device's assigned and running firmware with its update status.
-- firmware_images: the bytes, once per SHA-256 (64 lower-case hex digits). The database is the
-- source of truth: every host fills its own file cache (PROVD_FIRMWARE_CACHE) from here.
CREATE TABLE firmware_images (
    sha256 TEXT PRIMARY KEY,
    data   BLOB NOT NULL
);
CREATE TABLE firmware (
    version TEXT PRIMARY KEY,                                  -- 1-32 of [A-Za-z0-9._+-]
    sha256  TEXT NOT NULL REFERENCES firmware_images (sha256),
    size    INTEGER NOT NULL,
    md5     TEXT NOT NULL,                                     -- 32 lower-case hex digits
    created INTEGER NOT NULL
);
-- fw_assigned: the version an admin (later a rollout) assigned; a version cannot be deleted while
-- assigned. fw_running: what the device last reported. fw_status: where the update stands
-- (ARCHITECTURE.md "Firmware updates"); fw_downloaded: the image's last byte was asked for under
-- this assignment (a download that may have completed).
ALTER TABLE devices ADD COLUMN fw_assigned TEXT REFERENCES firmware (version);
ALTER TABLE devices ADD COLUMN fw_running TEXT;
ALTER TABLE devices ADD COLUMN fw_status TEXT NOT NULL DEFAULT 'none'
    CHECK (fw_status IN ('none', 'pending', 'offered', 'downloading', 'installed', 'failed'));
ALTER TABLE devices ADD COLUMN fw_downloaded INTEGER NOT NULL DEFAULT 0;
-- A heartbeat still reads this index alone: it now also holds what the firmware part of the
-- answer needs (an update to offer, a new running version to record).
DROP INDEX devices_poll;
CREATE INDEX devices_poll ON devices (deviceid, state, cfgsn, cfgsn_applied, fw_status, fw_running);
-- The devices of a version (deleting it, and rollouts reading their devices' status).
CREATE INDEX devices_by_firmware ON devices (fw_assigned) WHERE fw_assigned IS NOT NULL;
-- The Arduino update clients name a device by its MAC address (GET /api/ota): found by the id
-- without colons, in upper case.
CREATE INDEX devices_by_mac ON devices (upper(replace(deviceid, ':', '')));
