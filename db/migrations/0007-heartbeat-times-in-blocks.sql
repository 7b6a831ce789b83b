-- Migration 7: heartbeat times 64 devices to a row (lib/seen_blocks.h): 4 bytes a device, so a
-- page holds ~1000 devices' times instead of ~340, and a batch of a large fleet's heartbeats
-- rewrites a third of the pages. The row of block b holds devices b * 64 to b * 64 + 63. A
-- device is given its time when it is created, so a deleted device's leftover time is never
-- read (by a device that takes its id again).
CREATE TABLE heartbeats (
    block INTEGER PRIMARY KEY,
    times BLOB    NOT NULL
);
INSERT INTO heartbeats (block, times)
    SELECT device >> 6, seen_block(device, at) FROM device_seen GROUP BY device >> 6 ORDER BY 1;
DROP TABLE device_seen;
