-- Migration 0004 (issue 19, firmware over the air), as SQLite's 0012: images kept once per
-- content, the versions admins upload, and each device's assigned and running firmware with its
-- update status (ARCHITECTURE.md "Firmware updates").
CREATE TABLE firmware_images (
    sha256 text  COLLATE "C" PRIMARY KEY,
    data   bytea NOT NULL
);
CREATE TABLE firmware (
    version text   COLLATE "C" PRIMARY KEY,
    sha256  text   COLLATE "C" NOT NULL REFERENCES firmware_images (sha256),
    size    bigint NOT NULL,
    md5     text   COLLATE "C" NOT NULL,
    created bigint NOT NULL
);
-- No index holds fw_running, fw_status or fw_downloaded: writing them keeps a HOT update.
ALTER TABLE devices ADD COLUMN fw_assigned text COLLATE "C" REFERENCES firmware (version);
ALTER TABLE devices ADD COLUMN fw_running text COLLATE "C";
ALTER TABLE devices ADD COLUMN fw_status text COLLATE "C" NOT NULL DEFAULT 'none'
    CHECK (fw_status IN ('none', 'pending', 'offered', 'downloading', 'installed', 'failed'));
ALTER TABLE devices ADD COLUMN fw_downloaded boolean NOT NULL DEFAULT false;
CREATE INDEX devices_by_firmware ON devices (fw_assigned) WHERE fw_assigned IS NOT NULL;
CREATE INDEX devices_by_mac ON devices (upper(replace(deviceid, ':', '')));
