-- Migration 2: readings by time, for ?since=/?until= ranges, time buckets and retention pruning.
CREATE INDEX telemetry_by_time ON telemetry (device, received_at);
CREATE INDEX telemetry_received ON telemetry (received_at);
