-- Migration 0008 (issue 19, rollouts and groups), as SQLite's 0016: staged firmware rollouts over
-- a tag's devices (ARCHITECTURE.md "Rollouts").
CREATE TABLE rollouts (
    id                bigserial PRIMARY KEY,
    firmware          text    COLLATE "C" NOT NULL,
    tag               text    COLLATE "C" NOT NULL,
    stages            text    NOT NULL,
    success_threshold integer NOT NULL CHECK (success_threshold BETWEEN 0 AND 100),
    failure_threshold integer NOT NULL CHECK (failure_threshold BETWEEN 0 AND 100),
    timeout           bigint  NOT NULL CHECK (timeout > 0),
    state             text    COLLATE "C" NOT NULL DEFAULT 'running'
                      CHECK (state IN ('running', 'paused', 'cancelled', 'done')),
    stage             integer NOT NULL DEFAULT 0,
    reason            text    NOT NULL DEFAULT '',
    created           bigint  NOT NULL,
    updated           bigint  NOT NULL
);
CREATE UNIQUE INDEX rollouts_active_tag ON rollouts (tag) WHERE state IN ('running', 'paused');
CREATE TABLE rollout_devices (
    rollout    bigint NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    device     text   COLLATE "C" NOT NULL REFERENCES devices ON DELETE CASCADE,
    stage      integer NOT NULL,
    downloaded bigint,
    PRIMARY KEY (rollout, device)
);
