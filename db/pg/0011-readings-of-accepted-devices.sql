-- Migration 0011: a reading is stored only while its device is accepted. It was opened against
-- the device as read before the write (the start of a writer's batch, or a worker's own read),
-- so an admin's reject in between let it in. The state is now checked in the conditional update
-- itself, with the SEQN and the epoch, and a third column says whether the device was accepted
-- when the reading was refused. A function of a new name: hosts not yet upgraded keep calling
-- provd_readings_add (0010), whose result they have prepared; a later migration drops it.
CREATE FUNCTION provd_readings_add_accepted(ids text[], seqns bigint[], arrivals bigint[], times bigint[], texts text[],
                                   epochs bigint[], envelopes bigint[])
RETURNS TABLE (stored boolean, known boolean, accepted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    i bigint;
    was_stored boolean[] := '{}';
    was_known boolean[] := '{}';
    was_accepted boolean[] := '{}';
    now_state text;
BEGIN
    FOR i IN SELECT o FROM unnest(ids) WITH ORDINALITY AS u (id, o) ORDER BY id COLLATE "C" LOOP
        WITH claimed AS (
            UPDATE devices SET last_seqn = seqns[i], lastseen = greatest(lastseen, arrivals[i]),
                trust = trust | envelopes[i]
            WHERE deviceid = ids[i] AND state = 'accepted' AND coalesce(last_seqn, -1) < seqns[i]
                AND seqn_epoch = epochs[i] AND (envelopes[i] = 2 OR trust & 2 = 0)
            RETURNING deviceid, seqn_epoch)
        INSERT INTO telemetry (deviceid, epoch, seqn, received_at, ts, data)
        SELECT deviceid, seqn_epoch, seqns[i], arrivals[i], times[i], texts[i] FROM claimed;
        was_stored[i] := FOUND;
        now_state := CASE WHEN was_stored[i] THEN 'accepted' ELSE (SELECT state FROM devices WHERE deviceid = ids[i]) END;
        was_known[i] := now_state IS NOT NULL;
        was_accepted[i] := now_state IS NOT DISTINCT FROM 'accepted';
    END LOOP;
    RETURN QUERY SELECT u.s, u.k, u.a FROM unnest(was_stored, was_known, was_accepted) AS u (s, k, a);
END $$;
