-- Migration 0006 (issue 21), as SQLite's 0014: the audit trail, one row per admin change,
-- written in the change's own transaction (ARCHITECTURE.md "Audit trail"). Columns as there.
CREATE TABLE audit (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     bigint NOT NULL,
    via    text   COLLATE "C" NOT NULL,
    actor  text   COLLATE "C" NOT NULL,
    action text   COLLATE "C" NOT NULL,
    target text   COLLATE "C" NOT NULL,
    before text,
    after  text
);
CREATE INDEX audit_target ON audit (target, id);
CREATE INDEX audit_at ON audit (at);
