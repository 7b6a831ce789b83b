-- Migration 0005 (issue 19, rollouts and groups), as SQLite's 0013: where each device is, and
-- its tags.
-- location: free text, set by an admin or sent by the device when it registers; once an admin
-- has set it (location_pinned) a device's registration no longer changes it.
ALTER TABLE devices ADD COLUMN location text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN location_pinned boolean NOT NULL DEFAULT false;
-- A device's tags, a row each (the device id in the primary key, so the table could be
-- distributed by device), and the devices of one tag by the second index.
CREATE TABLE device_tags (
    device text COLLATE "C" NOT NULL REFERENCES devices ON DELETE CASCADE,
    tag    text COLLATE "C" NOT NULL,
    PRIMARY KEY (device, tag)
);
CREATE INDEX device_tags_by_tag ON device_tags (tag, device);
