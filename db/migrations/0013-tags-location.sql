-- Migration 0013 (issue 19, rollouts and groups): where each device is, and its tags.
-- location: free text, set by an admin or sent by the device when it registers; once an admin
-- has set it (location_pinned = 1) a device's registration no longer changes it.
ALTER TABLE devices ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN location_pinned INTEGER NOT NULL DEFAULT 0;
-- A device's tags, a row each (the device in the primary key, as every table's), and the
-- devices of one tag by the second index: the list's ?tag= and the bulk actions read it.
CREATE TABLE device_tags (
    device INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    tag    TEXT    NOT NULL,
    PRIMARY KEY (device, tag)
) WITHOUT ROWID;
CREATE INDEX device_tags_by_tag ON device_tags (tag, device);
