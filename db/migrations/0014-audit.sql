-- Migration 0014 (issue 21): the audit trail, one row per admin change, written in the change's
-- own transaction (ARCHITECTURE.md "Audit trail").
-- via: 'api' (an admin token) or 'provctl'; actor: the token's name, or provctl's OS user (never
-- a token or its hash). action: what was done ("device.update", "token.create", ...); target: what
-- it was done to (a device id, a token name). before/after: JSON of what the change touched, NULL
-- where there was or is nothing; a device key is never in them, only that it changed.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    via    TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after  TEXT
);
-- A device's history, newest first (GET /api/audit?device=); retention deletes by time.
CREATE INDEX audit_target ON audit (target, id);
CREATE INDEX audit_at ON audit (at);
