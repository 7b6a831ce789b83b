-- Migration 10: device trust (ARCHITECTURE.md "Device trust"). trust holds bits: 1, the device
-- has signed a call, so every call of its must be signed from then on; 2, it has sent a v2
-- envelope, so v1 is refused; 4, it has sent a v1 envelope. auth_time is the time t of its last
-- signed state-changing call (registration): a proof changes state once, a later one must carry
-- a later t. Neither is written by a heartbeat, bar the first signed one.
ALTER TABLE devices ADD COLUMN trust INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
