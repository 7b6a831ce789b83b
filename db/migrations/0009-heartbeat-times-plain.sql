-- Migration 9: heartbeat times in a plain table again, a row per device (0: never seen), out of
-- migration 7's blocks. The blocks were worth +1..+9% to the 1M heartbeat (bench/README.md), under the
-- 10% that would pay for their SQL functions, and one writer for the whole stack now batches
-- the writes anyway. The SQL functions of lib/seen_blocks.h read the blocks here a last time.
CREATE TABLE heartbeat_times (
    device INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    at     INTEGER NOT NULL
);
INSERT INTO heartbeat_times (device, at)
    SELECT d.id, seen_time(h.times, d.id) FROM devices d LEFT JOIN heartbeats h ON h.block = d.id >> 6
    ORDER BY d.id;
DROP TABLE heartbeats;
