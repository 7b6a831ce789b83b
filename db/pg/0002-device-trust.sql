-- Migration 2: device trust, as SQLite's migration 10 (db/migrations/0010-device-trust.sql):
-- trust bits 1 (has signed: every call must be signed), 2 (has sent v2: v1 refused), 4 (has sent
-- v1); auth_time, the t of the last signed state-changing call (a proof changes state once).
ALTER TABLE devices ADD COLUMN trust bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN auth_time bigint NOT NULL DEFAULT 0;
