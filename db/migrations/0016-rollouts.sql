-- Migration 0016 (issue 19, rollouts and groups): staged firmware rollouts over a tag's devices
-- (ARCHITECTURE.md "Rollouts"). A rollout's state and stage move by conditional UPDATEs only.
-- stages: a JSON array of percentages, strictly increasing, ending at 100 (checked by provd);
-- stage: how many of them have started (0 before the first).
CREATE TABLE rollouts (
    id                INTEGER PRIMARY KEY,
    firmware          TEXT    NOT NULL,
    tag               TEXT    NOT NULL,
    stages            TEXT    NOT NULL,
    success_threshold INTEGER NOT NULL CHECK (success_threshold BETWEEN 0 AND 100),
    failure_threshold INTEGER NOT NULL CHECK (failure_threshold BETWEEN 0 AND 100),
    timeout           INTEGER NOT NULL CHECK (timeout > 0),
    state             TEXT    NOT NULL DEFAULT 'running'
                      CHECK (state IN ('running', 'paused', 'cancelled', 'done')),
    stage             INTEGER NOT NULL DEFAULT 0,
    reason            TEXT    NOT NULL DEFAULT '',
    created           INTEGER NOT NULL,
    updated           INTEGER NOT NULL
);
-- One active (running or paused) rollout per tag, whichever host creates it.
CREATE UNIQUE INDEX rollouts_active_tag ON rollouts (tag) WHERE state IN ('running', 'paused');
-- The devices of each stage, fixed when the stage starts; downloaded: when a sweep first saw the
-- device's image downloaded (its timeout runs from there).
CREATE TABLE rollout_devices (
    rollout    INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    device     INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    stage      INTEGER NOT NULL,
    downloaded INTEGER,
    PRIMARY KEY (rollout, device)
) WITHOUT ROWID;
