-- Migration 0009, as SQLite's 0017: the number of devices in a row of its own, moved by
-- statement triggers (one update per statement, however many rows it inserts or deletes), so that
-- a new device's cap (PROVD_MAX_DEVICES) reads one row instead of counting every device. The row
-- lock orders concurrent inserts and deletes of devices; registrations are ordered already
-- (PG_REGISTRATION_LOCK).
CREATE TABLE device_count (
    one     integer PRIMARY KEY CHECK (one = 1),
    devices bigint  NOT NULL
);
INSERT INTO device_count SELECT 1, count(*) FROM devices;
CREATE FUNCTION provd_device_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE device_count SET devices = devices + (SELECT count(*) FROM added);
    RETURN NULL;
END $$;
CREATE FUNCTION provd_device_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE device_count SET devices = devices - (SELECT count(*) FROM removed);
    RETURN NULL;
END $$;
CREATE TRIGGER devices_count_add AFTER INSERT ON devices REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION provd_device_count_add();
CREATE TRIGGER devices_count_remove AFTER DELETE ON devices REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION provd_device_count_remove();
