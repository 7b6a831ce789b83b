/* The PostgreSQL backend's statements (store_pg.c): every SQL text it prepares, in one table
 * indexed by enum pg_stmt. */
#include "store_pg_internal.h"
#include "validate.h"

#define ALERT_LOCK      "7073400002" /* the alert sweeper's session lock (pg_alert_lead()) */

/* A device's tags as a JSON array, written as SQLite's json_group_array() writes it (a tag needs
 * no escaping: tag_fold()). */
#define TAGS_SQL                                                                                             \
    "(SELECT '[' || coalesce(string_agg('\"' || tag || '\"', ',' ORDER BY tag), '') || ']' "             \
    "FROM device_tags WHERE device = deviceid)"

/* The columns of a device (read_device()): lastseen is 0 for never seen. */
#define DEVICE_COLUMNS_WITH(tags)                                                                            \
    "deviceid, name, state, lastseen, ssid, ipaddr, cfgsn, cfgsn_applied, flags, data, poll_interval, "      \
    "datec, key IS NOT NULL, last_seqn, trust, location, " tags ", " DEVICE_FIRMWARE_COLUMNS
#define DEVICE_COLUMNS DEVICE_COLUMNS_WITH(TAGS_SQL)
/* A poll's (store_device_poll()): its tags are no part of its answer. */
#define DEVICE_POLL_COLUMNS DEVICE_COLUMNS_WITH("'[]'")

/* Online: seen within 2 poll intervals + 10 s (store_online_window()), at now, default interval. */
#define ONLINE_SQL(now, def)                                                                                 \
    "lastseen >= " now "::bigint - (2 * coalesce(poll_interval, " def "::bigint) + 10)"

/* A heartbeat time alone may be lost in a crash of PostgreSQL or of the worker that kept it back
 * (the next heartbeat writes it again): its transaction commits without waiting for the WAL's flush. The flush was the heartbeat's
 * bottleneck: pgbench of this UPDATE, 8 clients on this 2-core VM, 6.7k/s with it, 14.7k/s
 * without (9.5k/s with synchronous_commit off for the whole session), pgbench -S 23k/s.
 * Everything else, readings and admin changes included, commits with synchronous_commit on. */
#define ASYNC_COMMIT "WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)) "

/* The devices a struct device_filter matches, as SQLite's DEVICE_MATCH_SQL: state $2, liveness $3
 * at $4 with default interval $5, text $6, tag $8 (through its index), ids $9 (a JSON array). The
 * text is a case-insensitive substring of the id, name or location: lower() in the "C" collation
 * folds ASCII only, as SQLite's does; strpos() takes % and _ literally. */
/* clang-format off */
#define TEXT_IN(column) "strpos(lower(" column "), lower($6::text COLLATE \"C\")) > 0"
#define DEVICE_MATCH_SQL                                                                                     \
    "($2::text IS NULL OR state = $2) AND ($3::boolean IS NULL OR (" ONLINE_SQL("$4", "$5") ") = $3) "       \
    "AND ($6::text IS NULL OR " TEXT_IN("deviceid") " OR " TEXT_IN("name") " OR " TEXT_IN("location") ") "  \
    "AND ($8::text IS NULL OR deviceid IN (SELECT device FROM device_tags WHERE tag = $8)) "                 \
    "AND ($9::jsonb IS NULL OR deviceid IN (SELECT jsonb_array_elements_text($9::jsonb)))"

/* The device list ($1 cursor, the last device of the previous page; DEVICE_MATCH_SQL; $7 rows):
 * the same pages as SQLite's. */
#define DEVICE_LIST_SQL(cursor, order_by)                                                                    \
    "SELECT " DEVICE_COLUMNS " FROM devices WHERE " cursor " AND " DEVICE_MATCH_SQL                          \
    " ORDER BY " order_by " LIMIT $7"

/* Up to $7 devices, in id order, that DEVICE_MATCH_SQL matches and a bulk action would change
 * (cond). A bulk statement's $1 is the action's text: the tag, the property, the state. */
#define BULK_TARGETS_SQL(cond)                                                                               \
    "(SELECT deviceid FROM devices WHERE " DEVICE_MATCH_SQL " AND " cond " ORDER BY deviceid LIMIT $7)"
/* The same devices' rows locked in id order, as PG_SEEN locks them (so that the two never
 * deadlock), each re-checked against cond on the row as a concurrent writer left it, for an
 * UPDATE ... FROM target. */
#define BULK_LOCKED_SQL(cond)                                                                                \
    "WITH target AS MATERIALIZED (SELECT deviceid FROM devices WHERE " DEVICE_MATCH_SQL " AND " cond          \
    " ORDER BY deviceid LIMIT $7 FOR UPDATE) "
/* A bulk SET's configuration (property $1 = JSON $10) and whether it changes the device's. */
#define BULK_SET_DATA "jsonb_set(data::jsonb, ARRAY[$1::text], $10::jsonb)::text"
#define BULK_SET_CHANGES                                                                                     \
    "jsonb_typeof(data::jsonb) = 'object' AND (data::jsonb -> $1::text) IS DISTINCT FROM $10::jsonb "        \
    "AND octet_length(" BULK_SET_DATA ") <= 8192"

/* Four statements per sort: ascending from the start, ascending after the cursor, then the same
 * descending (pg_device_list()). Split by cursor so that each is one range of an index. */
#define DEVICE_LIST_STMTS(sort, asc_first, asc_after, desc_first, desc_after)                                \
    [PG_DEVICE_LIST + 4 * (sort)] = asc_first, [PG_DEVICE_LIST + 4 * (sort) + 1] = asc_after,                \
    [PG_DEVICE_LIST + 4 * (sort) + 2] = desc_first, [PG_DEVICE_LIST + 4 * (sort) + 3] = desc_after
/* clang-format on */

/* By the sort key, then the id. The cursor's place is its row's (key, id): a cursor that names
 * no device makes the key NULL, and the row comparison with NULL matches nothing. */
#define DEVICE_LIST_BY(sort, key)                                                                            \
    DEVICE_LIST_STMTS(                                                                                       \
        sort, DEVICE_LIST_SQL("$1::text IS NULL", key ", deviceid"),                                         \
        DEVICE_LIST_SQL("(" key ", deviceid) > ((SELECT " key " FROM devices WHERE deviceid = $1), $1)",     \
                        key ", deviceid"),                                                                   \
        DEVICE_LIST_SQL("$1::text IS NULL", key " DESC, deviceid DESC"),                                     \
        DEVICE_LIST_SQL("(" key ", deviceid) < ((SELECT " key " FROM devices WHERE deviceid = $1), $1)",     \
                        key " DESC, deviceid DESC"))

/* Readings of device $1 in the time range $2..$3, in (received_at, id) order, from the reading
 * whose id is the cursor $4 (NULL: from the start), $5 at most (NULL: all). A cursor that is
 * not one of the device's readings matches nothing: it is looked up by (deviceid, id), the
 * primary key, not by id across every partition. */
#define READING_LIST_SQL(cmp, order)                                                                         \
    "SELECT id, seqn, received_at, ts, data FROM telemetry "                                                 \
    "WHERE deviceid = $1 AND received_at BETWEEN $2::bigint AND $3::bigint "                                 \
    "AND ($4::bigint IS NULL OR (received_at, id) " cmp " "                                                  \
    "(SELECT received_at, id FROM telemetry WHERE deviceid = $1 AND id = $4)) "                              \
    "ORDER BY received_at " order ", id " order " LIMIT $5::bigint"

/* The audit trail, newest first (store_audit_list()), with a filter before the cursor's. */
#define AUDIT_LIST_SQL(filter)                                                                               \
    "SELECT id, at, via, actor, action, target, before, after FROM audit WHERE " filter                      \
    "($1::bigint IS NULL OR id < $1::bigint) AND at >= $2::bigint ORDER BY id DESC LIMIT $3::bigint"

/* A liveness's name (alert_kind_name()'s first three). */
#define LIVENESS_NAME_SQL(x) "CASE " x " WHEN 0 THEN 'online' WHEN 1 THEN 'overdue' ELSE 'offline' END"

const char *const pg_stmt_sql[PG__COUNT] = {
    [PG_PING] = "SELECT 1",
    [PG_BEGIN] = "BEGIN",
    /* One snapshot for the lookups of a read (store_read_begin()). */
    [PG_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    [PG_COMMIT] = "COMMIT",
    [PG_ROLLBACK] = "ROLLBACK",
    /* A new device ($2 its state), under PG_REGISTRATION_LOCK: should the same id register on
     * another host meanwhile, the later of the two updates the row the first inserted (xmax is 0
     * only on an inserted row). */
    [PG_DEVICE_REGISTER] =
        "INSERT INTO devices AS d (deviceid, state, ipaddr, ssid, datec, lastseen, registered_from, location) "
        "VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5::bigint, $5::bigint, $6, coalesce($7, '')) "
        "ON CONFLICT (deviceid) DO UPDATE SET ipaddr = coalesce($3, d.ipaddr), ssid = coalesce($4, d.ssid), "
        "lastseen = greatest(d.lastseen, $5::bigint), "
        "location = CASE WHEN d.location_pinned THEN d.location ELSE coalesce($7, d.location) END "
        "RETURNING " DEVICE_COLUMNS ", d.xmax = 0",
    /* A known device, seen again. */
    [PG_DEVICE_TOUCH] =
        "UPDATE devices SET ipaddr = coalesce($2, ipaddr), ssid = coalesce($3, ssid), "
        "lastseen = greatest(lastseen, $4::bigint), "
        "location = CASE WHEN location_pinned THEN location ELSE coalesce($5, location) END "
        "WHERE deviceid = $1 RETURNING " DEVICE_COLUMNS,
    /* Every new registration of the database, on any host, takes this lock for its transaction:
     * the caps are counted (in a statement after it, so a snapshot taken after the lock) and the
     * device inserted before the next one counts. */
    [PG_REGISTRATION_LOCK] = "SELECT pg_advisory_xact_lock(hashtext('provd: new device'))",
    /* What the caps on new devices count: all devices, and those registered from $1 since $2, up
     * to the cap on them, $3 (0: none counted, no cap). */
    [PG_REGISTRATION_COUNTS] =
        "SELECT (SELECT devices FROM device_count), (SELECT count(*) FROM (SELECT 1 FROM devices "
        "WHERE registered_from = $1 AND datec > $2::bigint LIMIT $3::bigint) AS recent)",
    [PG_DEVICE_EXPIRE_PENDING] = "DELETE FROM devices WHERE deviceid IN (SELECT deviceid FROM devices "
                                 "WHERE state = 'pending' AND last_seqn IS NULL AND datec < $1::bigint "
                                 "LIMIT $2::bigint)",
    /* The 304 of a heartbeat: a read; its time is kept back and written with others (PG_SEEN). */
    [PG_DEVICE_POLL_CURRENT] = "SELECT " TRUST_COLUMNS ", cfgsn, coalesce(cfgsn_applied, -1), fw_status, "
                               "coalesce(fw_running, '') FROM devices WHERE deviceid = $1",
    /* Heartbeat times kept back ($1 ids and $2 times, comma-separated), each device's latest, never
     * backwards. The rows are locked in id order, so that two workers writing overlapping sets
     * at once wait for each other instead of deadlocking. */
    [PG_SEEN] = ASYNC_COMMIT ", seen AS (SELECT id, max(t) AS t FROM unnest(string_to_array($1, ','), "
                             "string_to_array($2, ',')::bigint[]) AS u(id, t) GROUP BY id), "
                             "locked AS MATERIALIZED (SELECT d.deviceid, seen.t FROM devices d JOIN seen "
                             "ON d.deviceid = seen.id ORDER BY d.deviceid FOR UPDATE OF d) "
                             "UPDATE devices d SET lastseen = greatest(d.lastseen, locked.t) FROM async, locked "
                             "WHERE d.deviceid = locked.deviceid",
    [PG_DEVICE_APPLIED] =
        "UPDATE devices SET cfgsn_applied = $2::bigint WHERE deviceid = $1 RETURNING " DEVICE_POLL_COLUMNS,
    [PG_DEVICE_GET] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE deviceid = $1",
    [PG_DEVICE_POLL] = "SELECT " DEVICE_POLL_COLUMNS " FROM devices WHERE deviceid = $1",
    /* An admin's change if the device's cfgsn is still $9 (when $9 >= 0): concurrent changes with
     * one If-Match queue on the row lock and each re-checks the cfgsn the one before left, so one
     * of them wins. The cfgsn as next_cfgsn() in store_sqlite_devices.c: one more when the data changes
     * (SET's right-hand sides read the row as it was), an explicit higher one ($7) wins. */
    [PG_DEVICE_UPDATE] =
        "UPDATE devices SET name = coalesce($2, name), data = coalesce($3, data), state = coalesce($4, "
        "state), "
        "poll_interval = CASE WHEN $5::boolean THEN $6::bigint ELSE poll_interval END, "
        "cfgsn = greatest(CASE WHEN $3 IS NOT NULL AND $3 <> data THEN cfgsn + 1 ELSE cfgsn END, "
        "$7::bigint), "
        "last_seqn = CASE WHEN $8::boolean THEN NULL ELSE last_seqn END, "
        "seqn_epoch = seqn_epoch + CASE WHEN $8::boolean THEN 1 ELSE 0 END, "
        "location = CASE WHEN $11::boolean THEN coalesce($10, '') ELSE location END, "
        "location_pinned = CASE WHEN $11::boolean THEN $10::text IS NOT NULL ELSE location_pinned END, "
        FIRMWARE_ASSIGN_SQL("$12::boolean", "$13::text")
        "WHERE deviceid = $1 AND ($9::bigint < 0 OR cfgsn = $9::bigint) RETURNING " DEVICE_COLUMNS,
    /* Never seen yet. No row when a concurrent create came first: the caller updates that one. */
    [PG_DEVICE_CREATE] = "INSERT INTO devices (deviceid, name, data, state, poll_interval, cfgsn, datec, "
                         "location, location_pinned, fw_assigned, fw_status) "
                         "VALUES ($1, coalesce($2, ''), coalesce($3, '{}'), coalesce($4, 'accepted'), "
                         "$5::bigint, $6::bigint, $7::bigint, coalesce($8, ''), $8::text IS NOT NULL, $9::text, "
                         "CASE WHEN $9::text IS NULL THEN 'none' ELSE 'pending' END) "
                         "ON CONFLICT (deviceid) DO NOTHING RETURNING " DEVICE_COLUMNS,
    [PG_DEVICE_DELETE] = "DELETE FROM devices WHERE deviceid = $1",
    [PG_DEVICE_SET_KEY] = "UPDATE devices SET key = $2 WHERE deviceid = $1",
    /* Keys not yet sealed: without KEY_WRAP_PREFIX (key_wrap.h). */
    [PG_DEVICE_KEYS_PLAIN] = "SELECT deviceid, key FROM devices "
                             "WHERE key IS NOT NULL AND substr(key, 1, 11) <> 'provd-key1:' LIMIT $1::bigint",
    [PG_DEVICE_KEY_REPLACE] = "UPDATE devices SET key = $3 WHERE deviceid = $1 AND key = $2",
    /* By id any cursor text orders, a device or not. */
    DEVICE_LIST_STMTS(DEVICE_SORT_ID, DEVICE_LIST_SQL("$1::text IS NULL", "deviceid"),
                      DEVICE_LIST_SQL("deviceid > $1", "deviceid"),
                      DEVICE_LIST_SQL("$1::text IS NULL", "deviceid DESC"),
                      DEVICE_LIST_SQL("deviceid < $1", "deviceid DESC")),
    DEVICE_LIST_BY(DEVICE_SORT_NAME, "name"),
    DEVICE_LIST_BY(DEVICE_SORT_STATE, "state"),
    DEVICE_LIST_BY(DEVICE_SORT_LASTSEEN, "lastseen"),
    DEVICE_LIST_BY(DEVICE_SORT_IPADDR, "ipaddr"),
    DEVICE_LIST_BY(DEVICE_SORT_SSID, "ssid"),
    DEVICE_LIST_BY(DEVICE_SORT_CFGSN, "cfgsn"),
    DEVICE_LIST_BY(DEVICE_SORT_DATEC, "datec"),
    /* Bulk actions (store_device_bulk()): tag or untag $1, approve ($1 'accepted'), set property
     * $1 to $10. The tag writes run under PG_TAGS_LOCK, so that each sees the tags the one before
     * it left (the cap of DEVICE_TAGS_MAX, and no tag counted twice). Approve and set lock their
     * rows first (BULK_LOCKED_SQL): READ COMMITTED re-checks the condition on a row a concurrent
     * writer changed, so a device counts once per change and each change raises its cfgsn once. */
    /* $1 and $7 (cursor, limit) are not used: NULL. */
    [PG_DEVICE_COUNT] = "SELECT count(*) FROM devices WHERE $1::text IS NULL AND $7::bigint IS NULL AND "
                        DEVICE_MATCH_SQL,
    [PG_DEVICE_BULK + DEVICE_BULK_TAG] =
        "INSERT INTO device_tags (device, tag) SELECT deviceid, $1 FROM " BULK_TARGETS_SQL(
            "deviceid NOT IN (SELECT device FROM device_tags WHERE tag = $1) "
            "AND (SELECT count(*) FROM device_tags t WHERE t.device = devices.deviceid) < 16") " AS target "
        "ON CONFLICT DO NOTHING",
    [PG_DEVICE_BULK + DEVICE_BULK_UNTAG] =
        "DELETE FROM device_tags WHERE tag = $1 AND device IN " BULK_TARGETS_SQL(
            "deviceid IN (SELECT device FROM device_tags WHERE tag = $1)"),
    [PG_DEVICE_BULK + DEVICE_BULK_APPROVE] =
        BULK_LOCKED_SQL("state = 'pending'") "UPDATE devices d SET state = $1 FROM target "
        "WHERE d.deviceid = target.deviceid",
    [PG_DEVICE_BULK + DEVICE_BULK_SET] =
        BULK_LOCKED_SQL(BULK_SET_CHANGES) "UPDATE devices d SET data = " BULK_SET_DATA ", cfgsn = cfgsn + 1 "
        "FROM target WHERE d.deviceid = target.deviceid",
    /* Every write of tags, on any host, takes this lock for its transaction. */
    [PG_TAGS_LOCK] = "SELECT pg_advisory_xact_lock(hashtext('provd: device tags'))",
    /* A device's tags become the JSON array $2: the others go, the new ones come. */
    [PG_TAGS_SET] = "WITH gone AS (DELETE FROM device_tags WHERE device = $1 "
                    "AND tag NOT IN (SELECT jsonb_array_elements_text($2::jsonb))) "
                    "INSERT INTO device_tags (device, tag) SELECT $1, jsonb_array_elements_text($2::jsonb) "
                    "ON CONFLICT DO NOTHING",
    [PG_TELEMETRY_COUNT] = "SELECT count(*) FROM telemetry",
    /* Devices by state, then online and overdue at $1 (default interval $2), then all of them,
     * and the database's bytes: enum fleet_count's columns, the same counts as SQLite's. */
    [PG_DEVICE_FLEET] =
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'accepted'), "
        "count(*) FILTER (WHERE state = 'rejected'), "
        "count(*) FILTER (WHERE seen > 0 AND seen >= $1::bigint - (2 * every + 10)), "
        "count(*) FILTER (WHERE seen > 0 AND seen < $1::bigint - (2 * every + 10) AND seen >= $1::bigint - 5 * every), "
        "count(*), pg_database_size(current_database()) "
        "FROM (SELECT state, lastseen AS seen, coalesce(poll_interval, $2::bigint) AS every FROM devices) d",
    [PG_DEVICE_TRUST] = "SELECT " TRUST_COLUMNS " FROM devices WHERE deviceid = $1",
    /* The devices of $1 (an array) that exist, each with its TRUST_COLUMNS. */
    [PG_DEVICES_TRUST] = "SELECT deviceid, " TRUST_COLUMNS " FROM devices WHERE deviceid = ANY ($1::text[])",
    /* store_device_signed(): concurrent uses of one proof queue on the row lock, and each
     * re-checks the auth_time the one before left (READ COMMITTED): one of them writes. */
    [PG_DEVICE_SIGNED] = "UPDATE devices SET trust = trust | 1, "
                         "auth_time = CASE WHEN $3::boolean THEN $2::bigint ELSE auth_time END "
                         "WHERE deviceid = $1 AND (NOT $3::boolean OR auth_time < $2::bigint)",
    /* Readings of different devices in one statement, so one commit (db/pg/0010 and 0011: what
     * holds). Its columns named, so that a later change of the function's cannot change its result. */
    [PG_READINGS_ADD] = "SELECT stored, known, accepted FROM provd_readings_add_accepted($1::text[], $2::bigint[], "
                        "$3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[])",
    [PG_READING_LIST_ASC] = READING_LIST_SQL(">", "ASC"),
    [PG_READING_LIST_DESC] = READING_LIST_SQL("<", "DESC"),
    /* SQLite's json_tree query (store_sqlite_sql.c) walked by hand: every leaf of each reading with
     * its path as SQLite 3.40 writes it ("$.a.b[0]"; a key that is not a letter and letters or
     * digits quoted, "$.\"k_1\"", with JSON's escapes: PostgreSQL's, which differ from the
     * device's own only for a key written with needless \u escapes), the numeric ones grouped by
     * bucket and path in the same byte order; the field is the path as "a.b.0". The json type
     * (not jsonb) keeps duplicate names and their order, as json_tree does. The mean is SQLite's,
     * a sum of doubles over the count (avg(float8) would fail on values whose squares overflow,
     * and so would that sum near the double's limit: there, a numeric sum). */
    [PG_READING_BUCKETS] =
        "WITH RECURSIVE walk (bucket, fullkey, value) AS ("
        "SELECT (received_at / $4::bigint) * $4::bigint, '$'::text COLLATE \"C\", data::json FROM telemetry "
        "WHERE deviceid = $1 AND received_at BETWEEN $2::bigint AND $3::bigint "
        "UNION ALL "
        "SELECT w.bucket, w.fullkey || e.step, e.value FROM walk AS w CROSS JOIN LATERAL ("
        "SELECT '.' || CASE WHEN o.key ~ '^[A-Za-z][A-Za-z0-9]*$' THEN o.key ELSE to_json(o.key)::text END "
        "AS step, o.value "
        "FROM json_each(CASE WHEN json_typeof(w.value) = 'object' THEN w.value ELSE '{}' END) AS o "
        "UNION ALL "
        "SELECT '[' || (a.i - 1) || ']', a.value "
        "FROM json_array_elements(CASE WHEN json_typeof(w.value) = 'array' THEN w.value ELSE '[]' END) "
        "WITH ORDINALITY AS a (value, i)) AS e) "
        "SELECT bucket, replace(replace(substr(fullkey, 3), '[', '.'), ']', ''), "
        "min(n), CASE WHEN count(*) FILTER (WHERE abs(n) >= 1e300) = 0 "
        "THEN sum(n) FILTER (WHERE abs(n) < 1e300) / count(*) ELSE (sum(n::numeric) / count(*))::float8 END, "
        "max(n), count(*) FROM ("
        "SELECT bucket, fullkey, provd_json_number(value::text) AS n FROM walk "
        "WHERE json_typeof(value) = 'number' AND fullkey NOT IN ('$.SEQN', '$.ts')) AS leaves "
        "GROUP BY bucket, fullkey ORDER BY bucket, fullkey",
    /* db/pg/0001-schema.sql: day partitions from the day of $1 to $2 days ahead; those over by $1. */
    [PG_PARTITIONS_MAKE] = "SELECT provd_make_partitions($1::bigint, $2::integer)",
    [PG_PARTITIONS_DROP] = "SELECT provd_drop_partitions($1::bigint)",
    /* Readings of days without a partition of their own: the oldest arrivals first, $2 at most. */
    [PG_PRUNE_DEFAULT] = "DELETE FROM telemetry_default WHERE ctid = ANY (ARRAY("
                         "SELECT ctid FROM telemetry_default WHERE received_at < $1::bigint "
                         "ORDER BY id LIMIT $2::bigint))",
    [PG_FIRMWARE_GET] = "SELECT version, sha256, md5, size, created FROM firmware WHERE version = $1",
    [PG_FIRMWARE_LIST] = "SELECT version, sha256, md5, size, created FROM firmware ORDER BY version",
    [PG_FIRMWARE_RUNNING] = FIRMWARE_RUNNING_SQL("$1::integer"),
    /* One statement: the bytes (once per SHA-256) and the version; no row when the version exists
     * already (then PG_FIRMWARE_GET says with which bytes, and the transaction is rolled back).
     * Concurrent uploads of one version queue on its key: one inserts. */
    [PG_FIRMWARE_ADD] = "WITH image AS (INSERT INTO firmware_images (sha256, data) VALUES ($2, $6) "
                        "ON CONFLICT (sha256) DO NOTHING) "
                        "INSERT INTO firmware (version, sha256, size, md5, created) "
                        "VALUES ($1, $2, $3::bigint, $4, $5::bigint) "
                        "ON CONFLICT (version) DO NOTHING RETURNING version",
    /* Never while a device has it assigned (the foreign key says so too); its bytes go with the
     * last version holding them. No row: no such version, or assigned. */
    [PG_FIRMWARE_DELETE] = "WITH gone AS (DELETE FROM firmware WHERE version = $1 "
                           "AND NOT EXISTS (SELECT 1 FROM devices WHERE fw_assigned = $1) " FIRMWARE_NOT_ROLLING_OUT("$1") " RETURNING sha256), "
                           "bytes AS (DELETE FROM firmware_images i USING gone WHERE i.sha256 = gone.sha256 "
                           "AND NOT EXISTS (SELECT 1 FROM firmware f WHERE f.sha256 = gone.sha256 "
                           "AND f.version <> $1)) SELECT count(*) FROM gone",
    [PG_FIRMWARE_IMAGE] = "SELECT data FROM firmware_images WHERE sha256 = $1",
    [PG_DEVICE_FIRMWARE] = FIRMWARE_EVENT_SQL("$1", "$2::int", "$3::text"),
    [PG_DEVICE_BY_MAC] = DEVICE_BY_MAC_SQL("$1"),
    [PG_DEVICE_IMAGE] = FIRMWARE_DOWNLOAD_SQL("$1", "$2::text", "$3::bigint"),
    [PG_ROLLOUT_ADD] = ROLLOUT_ADD_SQL("$"),
    [PG_ROLLOUT_LIST] = ROLLOUT_LIST_SQL("$"),
    [PG_ROLLOUT_STAGES] = ROLLOUT_STAGES_SQL("$", "deviceid"),
    /* One statement (no transaction of its own, so also inside an admin's change): the move, a
     * cancel's unassignments; how many moved and whether the rollout exists. */
    [PG_ROLLOUT_STATE] =
        "WITH moved AS (" ROLLOUT_STATE_SQL("$") "), cleared AS (" ROLLOUT_UNASSIGN_SQL(
            "$", "deviceid",
            "(SELECT firmware FROM rollouts WHERE id = $1 AND EXISTS (SELECT 1 FROM moved WHERE state = "
            "'cancelled'))") " RETURNING 1) "
        "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM rollouts WHERE id = $1)",
    /* As SQLite's three statements, in one: the claim, the stage's devices (the first $4 of the
     * tag's accepted ones by id, but those of earlier stages), their assignment. A second evaluator
     * waits for the claimed row, then finds its stage moved: it claims nothing, so adds nothing. */
    [PG_ROLLOUT_START] =
        "WITH claim AS (" ROLLOUT_CLAIM_SQL("$") "), members AS (INSERT INTO rollout_devices (rollout, device, stage) "
        "SELECT c.id, m.device, c.stage FROM claim c CROSS JOIN LATERAL (SELECT t.device FROM device_tags t "
        "JOIN devices d ON d.deviceid = t.device WHERE t.tag = c.tag AND d.state = 'accepted' "
        "ORDER BY t.device LIMIT $4::bigint) m WHERE NOT EXISTS (SELECT 1 FROM rollout_devices r "
        "WHERE r.rollout = c.id AND r.device = m.device) RETURNING device), "
        "assigned AS (" ROLLOUT_ASSIGN_SQL("deviceid", "(SELECT firmware FROM claim)", "SELECT device FROM members")
        " RETURNING 1) SELECT (SELECT count(*) FROM claim), (SELECT count(*) FROM assigned)",
    [PG_ROLLOUT_DOWNLOADED] = ROLLOUT_DOWNLOADED_SQL("$", "deviceid"),
    [PG_ROLLOUT_TIMEOUT] = ROLLOUT_TIMEOUT_SQL("$", "deviceid"),
    [PG_TOKEN_ADD] = "INSERT INTO admin_tokens (name, hash, created, expires) "
                     "VALUES ($1, $2::bytea, $3::bigint, nullif($4::bigint, 0))",
    [PG_TOKEN_CHECK] =
        "SELECT coalesce(expires, 0), coalesce(last_used, 0), name FROM admin_tokens WHERE hash = $1::bytea",
    [PG_TOKEN_USED] = "UPDATE admin_tokens SET last_used = $2::bigint "
                      "WHERE hash = $1::bytea AND coalesce(last_used, 0) < $2::bigint",
    [PG_TOKEN_LIST] = "SELECT name, created, coalesce(expires, 0), coalesce(last_used, 0) FROM admin_tokens "
                      "ORDER BY name",
    [PG_TOKEN_REVOKE] = "DELETE FROM admin_tokens WHERE name = $1",
    /* Devices $2..$3 of prefix $1 (store_bulk_id()), accepted with key $5, seen at $4. */
    [PG_BULK_DEVICES] =
        "INSERT INTO devices (deviceid, state, ipaddr, ssid, datec, key, lastseen) "
        "SELECT provd_bulk_id($1, n), 'accepted', '10.0.0.1', 'bulk', $4::bigint, $5, $4::bigint "
        "FROM generate_series($2::bigint, $3::bigint) AS n",
    /* The bulk readings' devices $2..$3 of prefix $1: last SEQN $4, seen at $5; their epochs. */
    [PG_BULK_CLAIM] =
        "WITH claimed AS (UPDATE devices SET last_seqn = $4::bigint, "
        "lastseen = greatest(lastseen, $5::bigint) "
        "FROM generate_series($2::bigint, $3::bigint) AS n WHERE deviceid = provd_bulk_id($1, n) "
        "RETURNING deviceid, seqn_epoch) SELECT deviceid, seqn_epoch FROM claimed ORDER BY deviceid",
    [PG_DEVICE_LOCK] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE deviceid = $1 FOR UPDATE",
    [PG_AUDIT_ADD] = "INSERT INTO audit (at, via, actor, action, target, before, after) "
                     "VALUES ($1::bigint, $2, $3, $4, $5, $6, $7)",
    /* As SQLite's: newest first from before the cursor $1, made at $2 or later, $3 rows; a
     * device's ($4) from the index on (target, id). */
    [PG_AUDIT_LIST] = AUDIT_LIST_SQL(""),
    [PG_AUDIT_LIST_DEVICE] = AUDIT_LIST_SQL("target = $4 AND substr(action, 1, 7) = 'device.' AND "),
    [PG_AUDIT_PRUNE] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1::bigint "
                       "LIMIT $2::bigint)",
    /* Seen once, not within 5 intervals at $1 (default interval $2), by when they turned offline. */
    [PG_RECENTLY_OFFLINE] = "SELECT " DEVICE_COLUMNS " FROM devices "
                            "WHERE lastseen > 0 AND lastseen < $1::bigint - 5 * coalesce(poll_interval, $2::bigint) "
                            "ORDER BY lastseen + 5 * coalesce(poll_interval, $2::bigint) DESC LIMIT $3::bigint",
    /* The identity's sequence: max(id) would read every partition (id does not lead their keys).
     * A reading takes its id only when inserted (PG_READINGS_ADD), bulk loads theirs. */
    [PG_READING_LAST_ID] =
        "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('telemetry', 'id')::regclass), 0)",
    /* Whether this session holds the sweeper's lock, else whether it gets it now (CASE: in that
     * order; a second pg_try_advisory_lock() would only count the lock up once more). */
    [PG_ALERT_LEAD] = "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                      "AND pid = pg_backend_pid() AND granted AND objsubid = 1 "
                      "AND ((classid::bigint << 32) | objid::bigint) = " ALERT_LOCK ") "
                      "THEN true ELSE pg_try_advisory_lock(" ALERT_LOCK ") END",
    /* An alert sweep (store_alert_sweep(), as SQLite's two statements, db/pg/0007): the devices
     * due at $1 and those not online seen since, $3 at most of each, default interval $2, each
     * judged (became: 0 online, 1 overdue, 2 offline), an alert for each change, the judgement
     * recorded. The rows are locked, and READ COMMITTED re-checks each against what a concurrent
     * sweep left, so two sweeps at once judge a device once. */
    [PG_ALERT_SWEEP] =
        "WITH cand AS MATERIALIZED ((SELECT deviceid FROM alert_state WHERE due <= $1::bigint "
        "ORDER BY due, deviceid LIMIT $3::bigint) UNION (SELECT a.deviceid FROM alert_state a "
        "JOIN devices d USING (deviceid) WHERE a.liveness > 0 AND d.lastseen > a.lastseen "
        "ORDER BY a.deviceid LIMIT $3::bigint)), "
        "locked AS MATERIALIZED (SELECT a.deviceid, a.liveness AS old, d.name, d.lastseen AS seen, "
        "coalesce(d.poll_interval, $2::bigint) AS every FROM alert_state a JOIN devices d USING (deviceid) "
        "WHERE a.deviceid IN (SELECT deviceid FROM cand) "
        "AND (a.due <= $1::bigint OR (a.liveness > 0 AND d.lastseen > a.lastseen)) "
        "ORDER BY a.deviceid FOR UPDATE OF a), "
        "judged AS MATERIALIZED (SELECT *, CASE WHEN seen > 0 AND seen >= $1::bigint - (2 * every + 10) THEN 0 "
        "WHEN seen > 0 AND seen >= $1::bigint - 5 * every THEN 1 ELSE 2 END AS became FROM locked), "
        "written AS (INSERT INTO alerts (subject, kind, at, name, liveness_from, liveness_to, lastseen) "
        "SELECT deviceid, " LIVENESS_NAME_SQL("became") ", $1::bigint, name, " LIVENESS_NAME_SQL("old") ", "
        LIVENESS_NAME_SQL("became") ", seen FROM judged WHERE old IS NOT NULL AND became <> old "
        "ORDER BY deviceid) "
        "UPDATE alert_state a SET liveness = j.became, lastseen = j.seen, "
        "due = CASE j.became WHEN 0 THEN j.seen + 2 * j.every + 11 WHEN 1 THEN j.seen + 5 * j.every + 1 END "
        "FROM judged j WHERE a.deviceid = j.deviceid",
    [PG_ALERT_ENQUEUE] = "INSERT INTO alerts (subject, kind, at, detail) VALUES ($1, $2, $3::bigint, $4)",
    /* Of each subject its oldest alert (alerts_by_subject), if due at $1, oldest first, $2 at most. */
    [PG_ALERT_DUE] = "SELECT id, kind, subject, at, name, liveness_from, liveness_to, coalesce(lastseen, 0), "
                     "detail, attempts FROM alerts a WHERE next_at <= $1::bigint AND NOT EXISTS "
                     "(SELECT 1 FROM alerts b WHERE b.subject = a.subject AND b.id < a.id) "
                     "ORDER BY id LIMIT $2::bigint",
    /* Alert $1 out of the outbox, counted as sent ($2) or failed, once. */
    [PG_ALERT_DONE] = "WITH gone AS (DELETE FROM alerts WHERE id = $1::bigint RETURNING id) "
                      "UPDATE alert_counts SET sent = sent + CASE WHEN $2::boolean THEN 1 ELSE 0 END, "
                      "failed = failed + CASE WHEN $2::boolean THEN 0 ELSE 1 END WHERE EXISTS (SELECT 1 FROM gone)",
    [PG_ALERT_RETRY] = "UPDATE alerts SET attempts = attempts + 1, next_at = $2::bigint WHERE id = $1::bigint",
    [PG_ALERT_COUNTS] = "SELECT (SELECT count(*) FROM alerts), sent, failed FROM alert_counts",
};

_Static_assert(DEVICE_TAGS_MAX == 16, "PG_DEVICE_BULK's tag cap");
_Static_assert(DATA_MAX == 8192, "BULK_SET_CHANGES's size cap");
