-- bench/pgbench-devices.sql: pgbench's select-only load on provd's own devices table (bench/run.sh,
-- row pgbench_devices_pk): one device row by primary key, the id uniformly random over the seeded
-- ones and spelt as bench/seed spells it (PREFIX and 6 upper-case hex digits). pgbench -D sets
-- devices and prefix.
\set n random(0, :devices - 1)
SELECT * FROM devices WHERE deviceid = :prefix::text || lpad(upper(to_hex(:n::bigint)), 6, '0');
