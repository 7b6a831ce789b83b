-- Migration 0010: readings of different devices stored in one call, so that they share one commit
-- (PG_READINGS_ADD: a host's writer's batches, cgi-bin/writer.h), each by a statement that finds
-- its device by its key. (One statement joining the arrays to devices was planned anew at every
-- call, or, planned once, read all of devices while there were a few thousand.)
--
-- Arrays in the same order: the readings' devices, SEQNs, arrival times, device times, texts,
-- SEQN epochs and envelopes. A device's last SEQN moves up to its reading's only if that is above
-- it, in the epoch the reading was opened in, and a v1 reading's only while the device has not
-- sent v2; only then is the reading inserted. The readings are taken in device id order, so that
-- two hosts' batches lock rows in one order (as PG_SEEN's do) and never deadlock. Concurrent
-- sends of one reading queue on the row lock, and READ COMMITTED re-checks the SEQN the first
-- left: one inserts. Each reading also counts as its device being seen. One row per reading, in
-- the arrays' order: whether it was stored, whether its device exists.
CREATE FUNCTION provd_readings_add(ids text[], seqns bigint[], arrivals bigint[], times bigint[], texts text[],
                                   epochs bigint[], envelopes bigint[])
RETURNS TABLE (stored boolean, known boolean)
LANGUAGE plpgsql AS $$
DECLARE
    i bigint;
    was_stored boolean[] := '{}';
    was_known boolean[] := '{}';
BEGIN
    FOR i IN SELECT o FROM unnest(ids) WITH ORDINALITY AS u (id, o) ORDER BY id COLLATE "C" LOOP
        WITH claimed AS (
            UPDATE devices SET last_seqn = seqns[i], lastseen = greatest(lastseen, arrivals[i]),
                trust = trust | envelopes[i]
            WHERE deviceid = ids[i] AND coalesce(last_seqn, -1) < seqns[i] AND seqn_epoch = epochs[i]
                AND (envelopes[i] = 2 OR trust & 2 = 0)
            RETURNING deviceid, seqn_epoch)
        INSERT INTO telemetry (deviceid, epoch, seqn, received_at, ts, data)
        SELECT deviceid, seqn_epoch, seqns[i], arrivals[i], times[i], texts[i] FROM claimed;
        was_stored[i] := FOUND;
        was_known[i] := FOUND OR EXISTS (SELECT 1 FROM devices WHERE deviceid = ids[i]);
    END LOOP;
    RETURN QUERY SELECT u.s, u.k FROM unnest(was_stored, was_known) AS u (s, k);
END $$;
