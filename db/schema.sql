-- provd schema, migration 1. Later changes go in db/migrations/NNNN-name.sql (applied in order;
-- PRAGMA user_version records how many have run). Times are Unix seconds (UTC).

CREATE TABLE devices (
    id            INTEGER PRIMARY KEY,
    deviceid      TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'accepted', 'rejected')),
    lastseen      INTEGER,
    ssid          TEXT    NOT NULL DEFAULT '',
    ipaddr        TEXT    NOT NULL DEFAULT '',
    cfgsn         INTEGER NOT NULL DEFAULT 0,
    cfgsn_applied INTEGER,
    flags         INTEGER NOT NULL DEFAULT 0,
    data          TEXT    NOT NULL DEFAULT '{}',   -- configuration properties, JSON
    poll_interval INTEGER,                         -- seconds; NULL: the server's default
    datec         INTEGER NOT NULL,
    key           TEXT,                            -- telemetry secret; never leaves the server
    last_seqn     INTEGER
);

CREATE TABLE telemetry (
    device      INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    seqn        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    ts          INTEGER,                           -- the device's own clock, if it sent one
    data        TEXT    NOT NULL,                  -- the decrypted reading, JSON
    PRIMARY KEY (device, seqn)
) WITHOUT ROWID;

CREATE TABLE admin_tokens (
    name    TEXT    PRIMARY KEY,
    hash    BLOB    NOT NULL UNIQUE,               -- SHA-256 of the token; the token is never stored
    created INTEGER NOT NULL
);
