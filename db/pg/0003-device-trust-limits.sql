-- Migration 0003 (issue 18, hardening), as SQLite's 0011: the caps on self-registration, and
-- admin tokens that expire and say when they were last used.
-- registered_from: the client address (its /64 for IPv6) a device registered itself from; NULL
-- for devices an admin created. New registrations per address and minute are counted by it.
ALTER TABLE devices ADD COLUMN registered_from text COLLATE "C";
CREATE INDEX devices_registered_from ON devices (registered_from, datec) WHERE registered_from IS NOT NULL;
-- expires: Unix seconds after which the token is refused; NULL: never. last_used: the last
-- request it authenticated (to the minute); NULL: never used.
ALTER TABLE admin_tokens ADD COLUMN expires bigint;
ALTER TABLE admin_tokens ADD COLUMN last_used bigint;
