-- Migration 4: the device list sorted by a column pages by (column, deviceid) ranges; an index
-- on the pair makes any page one range scan. Only columns the admin writes (or nobody) are
-- indexed: lastseen, ipaddr and ssid are written by every heartbeat or registration, and an
-- index on them made those writes 1.3-2x slower at 1M devices, so those sorts scan the table.
CREATE INDEX devices_by_name ON devices (name, deviceid);
CREATE INDEX devices_by_state ON devices (state, deviceid);
CREATE INDEX devices_by_cfgsn ON devices (cfgsn, deviceid);
CREATE INDEX devices_by_datec ON devices (datec, deviceid);
