/* The PostgreSQL backend of store.h, for many workers on several hosts writing at once: each
 * invariant is one statement's under READ COMMITTED, with no lock of ours. Only file with libpq-fe.h. */
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrations.h"
#include "store_backend.h"
#include "validate.h"

#define CONNECT_TIMEOUT "2"          /* seconds, unless the URI says otherwise; also bounds a reconnect */
#define DAYS_AHEAD      14           /* day partitions made ahead, by open and by each prune */
#define MIGRATION_LOCK  "7073400000" /* pg_advisory_xact_lock key; the partitions' is the next (db/pg) */
#define ALERT_LOCK      "7073400002" /* the alert sweeper's session lock (pg_alert_lead()) */
#define MAX_PARAMS      14
#define BULK_CHUNK      10000     /* devices per claim and COPY of store_reading_bulk_add() */
#define COPY_BUFFER     (1 << 18) /* bytes of COPY text sent at once */
#define SEEN_MAX        512       /* heartbeat times kept back at most (struct seen_times) */
#define SEEN_HOLD_MS    500       /* and for at most this long */
#define SEEN_ID_MAX     64        /* longest device id (validate.h's DEVICE_ID_MAX) */

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
/* What a device call is checked against (read_trust()). */
#define TRUST_COLUMNS "state, coalesce(key, ''), trust, seqn_epoch"
/* A poll's (store_device_poll()): its tags are no part of its answer. */
#define DEVICE_POLL_COLUMNS DEVICE_COLUMNS_WITH("'[]'")
#define DEVICE_COLUMN_COUNT 23

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

enum pg_stmt {
    PG_PING,
    PG_BEGIN,
    PG_BEGIN_READ,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_DEVICE_REGISTER,
    PG_DEVICE_TOUCH,
    PG_REGISTRATION_LOCK,
    PG_REGISTRATION_COUNTS,
    PG_DEVICE_EXPIRE_PENDING,
    PG_DEVICE_POLL_CURRENT,
    PG_DEVICE_APPLIED,
    PG_DEVICE_GET,
    PG_DEVICE_POLL,
    PG_DEVICE_EXISTS,
    PG_DEVICE_UPDATE,
    PG_DEVICE_CREATE,
    PG_DEVICE_DELETE,
    PG_DEVICE_SET_KEY,
    PG_DEVICE_KEYS_PLAIN,
    PG_DEVICE_KEY_REPLACE,
    PG_DEVICE_LIST, /* four per sort: see DEVICE_LIST_STMTS */
    PG_DEVICE_LIST_LAST = PG_DEVICE_LIST + 4 * DEVICE_SORT__COUNT - 1,
    PG_DEVICE_COUNT,
    PG_DEVICE_BULK, /* one per enum device_bulk_action */
    PG_DEVICE_BULK_LAST = PG_DEVICE_BULK + DEVICE_BULK_SET,
    PG_TAGS_LOCK,
    PG_TAGS_SET,
    PG_TELEMETRY_COUNT,
    PG_DEVICE_FLEET,
    PG_DEVICE_TRUST,
    PG_DEVICE_SIGNED,
    PG_READING_ADD,
    PG_READING_LIST_ASC,
    PG_READING_LIST_DESC,
    PG_READING_BUCKETS,
    PG_PARTITIONS_MAKE,
    PG_PARTITIONS_DROP,
    PG_PRUNE_DEFAULT,
    PG_FIRMWARE_GET,
    PG_FIRMWARE_LIST,
    PG_FIRMWARE_RUNNING,
    PG_FIRMWARE_ADD,
    PG_FIRMWARE_DELETE,
    PG_FIRMWARE_IMAGE,
    PG_DEVICE_FIRMWARE,
    PG_DEVICE_BY_MAC,
    PG_ROLLOUT_ADD,
    PG_ROLLOUT_LIST,
    PG_ROLLOUT_STAGES,
    PG_ROLLOUT_STATE,
    PG_ROLLOUT_START,
    PG_ROLLOUT_DOWNLOADED,
    PG_ROLLOUT_TIMEOUT,
    PG_TOKEN_ADD,
    PG_TOKEN_CHECK,
    PG_TOKEN_USED,
    PG_TOKEN_LIST,
    PG_TOKEN_REVOKE,
    PG_BULK_DEVICES,
    PG_BULK_CLAIM,
    PG_SEEN,
    PG_DEVICE_LOCK,
    PG_AUDIT_ADD,
    PG_AUDIT_LIST,
    PG_AUDIT_LIST_DEVICE,
    PG_AUDIT_PRUNE,
    PG_RECENTLY_OFFLINE,
    PG_READING_LAST_ID,
    PG_ALERT_LEAD,
    PG_ALERT_SWEEP,
    PG_ALERT_ENQUEUE,
    PG_ALERT_DUE,
    PG_ALERT_DONE,
    PG_ALERT_RETRY,
    PG_ALERT_COUNTS,
    PG__COUNT
};

static const char *const pg_stmt_sql[PG__COUNT] = {
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
    /* What the caps on new devices count: all devices, and those registered from $1 since $2. */
    [PG_REGISTRATION_COUNTS] =
        "SELECT (SELECT count(*) FROM devices), "
        "(SELECT count(*) FROM devices WHERE registered_from = $1 AND datec > $2::bigint)",
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
    [PG_DEVICE_EXISTS] = "SELECT 1 FROM devices WHERE deviceid = $1",
    /* An admin's change if the device's cfgsn is still $9 (when $9 >= 0): concurrent changes with
     * one If-Match queue on the row lock and each re-checks the cfgsn the one before left, so one
     * of them wins. The cfgsn as next_cfgsn() in store_sqlite.c: one more when the data changes
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
    /* store_device_signed(): concurrent uses of one proof queue on the row lock, and each
     * re-checks the auth_time the one before left (READ COMMITTED): one of them writes. */
    [PG_DEVICE_SIGNED] = "UPDATE devices SET trust = trust | 1, "
                         "auth_time = CASE WHEN $3::boolean THEN $2::bigint ELSE auth_time END "
                         "WHERE deviceid = $1 AND (NOT $3::boolean OR auth_time < $2::bigint)",
    /* A reading in one statement: the device's last SEQN moves up to $2 only if $2 is above it, and
     * only then is the reading inserted, in the device's SEQN epoch. Concurrent sends of one
     * reading queue on the device's row lock; the later ones re-check the SEQN the first left
     * (READ COMMITTED) and insert nothing. Also counts as the device being seen at $3. */
    [PG_READING_ADD] = "WITH claimed AS (UPDATE devices SET last_seqn = $2::bigint, "
                       "lastseen = greatest(lastseen, $3::bigint), trust = trust | $7::bigint "
                       "WHERE deviceid = $1 AND coalesce(last_seqn, -1) < $2::bigint "
                       "AND seqn_epoch = $6::bigint AND ($7::bigint = 2 OR trust & 2 = 0) "
                       "RETURNING deviceid, seqn_epoch) "
                       "INSERT INTO telemetry (deviceid, epoch, seqn, received_at, ts, data) "
                       "SELECT deviceid, seqn_epoch, $2::bigint, $3::bigint, $4::bigint, $5 FROM claimed "
                       "RETURNING id",
    [PG_READING_LIST_ASC] = READING_LIST_SQL(">", "ASC"),
    [PG_READING_LIST_DESC] = READING_LIST_SQL("<", "DESC"),
    /* SQLite's json_tree query (store_sqlite.c) walked by hand: every leaf of each reading with
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
    [PG_DEVICE_BY_MAC] = "SELECT deviceid FROM devices WHERE upper(replace(deviceid, ':', '')) = $1 "
                         "ORDER BY deviceid LIMIT 1",
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
     * A reading takes its id only when inserted (PG_READING_ADD), bulk loads theirs. */
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

/* Heartbeat times not written yet, as PG_SEEN's two parameters: ids and times, comma-separated. */
struct seen_times {
    int count;
    int64_t first_ms; /* when the first of them came, on CLOCK_MONOTONIC */
    size_t ids_len, times_len;
    char ids[SEEN_MAX * (SEEN_ID_MAX + 1)];
    char times[SEEN_MAX * 21];
};

struct pg_store {
    struct store base;
    PGconn *conn;
    struct seen_times seen;
    bool prepared[PG__COUNT]; /* on this connection: forgotten when it is reset */
    char where[128];          /* host:port/database, for messages (never the URI: its password) */
    char sqlstate[6];         /* of the last failure: "" when it had none */
    bool in_txn;              /* a transaction of ours is open (begin_transaction()) */
    bool in_write;            /* between store_write_begin() and store_write_end() (in_txn too) */
};

static const struct store_ops pg_ops;

static struct pg_store *pg_of(struct store *base)
{
    return (struct pg_store *)base;
}

/* ---- messages ---- */

/* Copies the first line of msg into dst. */
static void first_line(char *dst, size_t len, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    snprintf(dst, len, "%.*s", (int)n, msg);
}

/* Blots out every copy of secret in msg (a password libpq might echo). */
static void scrub(char *msg, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0)
        return;
    for (char *p = strstr(msg, secret); p; p = strstr(p + n, secret))
        memset(p, '*', n);
}

/* Removes what libpq quotes of a URI it cannot parse (it may be the password): "x" becomes "". */
static void drop_quoted(char *msg)
{
    char *out = msg;
    bool quoted = false;
    for (const char *p = msg; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p == '"' || !quoted)
            *out++ = *p;
    }
    *out = '\0';
}

/* what: the operation. The reason is the result's own message when there is one, else the
 * connection's; a lost connection is STORE_UNAVAILABLE (the next operation reconnects). */
static enum store_status fail(struct pg_store *s, const char *what, const PGresult *res)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", code ? code : "");
    char line[200];
    first_line(line, sizeof line, msg ? msg : PQerrorMessage(s->conn));
    if (PQstatus(s->conn) == CONNECTION_BAD) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.60s: PostgreSQL at %.50s: %.120s", what, s->where,
                 line);
        return STORE_UNAVAILABLE;
    }
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.60s: %.180s", what, line);
    return STORE_ERROR;
}

/* ---- the connection and its statements ---- */

/* Before each statement: a connection found lost (by the statement before) is reset, connect_timeout
 * bounding the wait, and its statements are prepared again as they are used. Never inside a
 * transaction: what follows would run outside it, on the new connection. */
static enum store_status connected(struct pg_store *s)
{
    if (PQstatus(s->conn) == CONNECTION_OK)
        return STORE_OK;
    if (s->in_txn)
        return fail(s, "connection lost inside a transaction", NULL);
    PQreset(s->conn);
    memset(s->prepared, 0, sizeof s->prepared);
    if (PQstatus(s->conn) == CONNECTION_OK)
        return STORE_OK;
    return fail(s, "reconnect", NULL);
}

/* A statement's parameters, $1 first: text (NULL for SQL NULL), integers, booleans, or bytes
 * (binary, with their length). */
struct params {
    int n;
    const char *value[MAX_PARAMS];
    int length[MAX_PARAMS];
    int format[MAX_PARAMS];
    char digits[MAX_PARAMS][24];
};

static void param_text(struct params *p, const char *v)
{
    p->value[p->n++] = v;
}

static void param_int(struct params *p, int64_t v)
{
    snprintf(p->digits[p->n], sizeof p->digits[0], "%lld", (long long)v);
    param_text(p, p->digits[p->n]);
}

static void param_int_or_null(struct params *p, bool has, int64_t v)
{
    if (has)
        param_int(p, v);
    else
        param_text(p, NULL);
}

static void param_bool(struct params *p, bool v)
{
    param_text(p, v ? "t" : "f");
}

static void param_bytes(struct params *p, const void *v, size_t len)
{
    p->length[p->n] = (int)len;
    p->format[p->n] = 1;
    param_text(p, v);
}

static const char *stmt_name(enum pg_stmt id, char *buf, size_t len)
{
    snprintf(buf, len, "provd_%d", (int)id);
    return buf;
}

/* Every statement is run through here: it is where a lost connection is replaced. */
static enum store_status prepare(struct pg_store *s, enum pg_stmt id)
{
    enum store_status st = connected(s);
    if (st != STORE_OK || s->prepared[id])
        return st;
    char name[32];
    PGresult *res = PQprepare(s->conn, stmt_name(id, name, sizeof name), pg_stmt_sql[id], 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        st = fail(s, pg_stmt_sql[id], res);
    PQclear(res);
    s->prepared[id] = st == STORE_OK;
    return st;
}

/* Runs statement id (prepared first on this connection if it is not yet). Returns its result,
 * which the caller PQclear()s, or NULL with *st saying why (what names the operation). */
static PGresult *run(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                     enum store_status *st)
{
    *st = prepare(s, id);
    if (*st != STORE_OK)
        return NULL;
    char name[32];
    PGresult *res = PQexecPrepared(s->conn, stmt_name(id, name, sizeof name), p ? p->n : 0,
                                   p ? p->value : NULL, p ? p->length : NULL, p ? p->format : NULL, 0);
    ExecStatusType rs = PQresultStatus(res);
    if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)
        return res;
    *st = fail(s, what, res);
    PQclear(res);
    return NULL;
}

/* Runs a statement whose rows the caller does not read; *rows (when not NULL) gets how many it
 * changed or returned. */
static enum store_status exec_stmt(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                   const char *what, int64_t *rows)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (res && rows) {
        const char *changed = PQcmdTuples(res);
        *rows = *changed ? strtoll(changed, NULL, 10) : PQntuples(res);
    }
    PQclear(res);
    return st;
}

static int64_t col_int(const PGresult *res, int row, int col, int64_t if_null)
{
    return PQgetisnull(res, row, col) ? if_null : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* The TRUST_COLUMNS of res's first row from column col on: the trust into *out, the key as
 * stored into stored. */
static void read_trust(const PGresult *res, int col, struct device_trust *out, char *stored,
                       size_t stored_len)
{
    snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, 0, col));
    snprintf(stored, stored_len, "%s", PQgetvalue(res, 0, col + 1));
    out->trust = col_int(res, 0, col + 2, 0);
    out->epoch = col_int(res, 0, col + 3, 0);
}

/* A device row of DEVICE_COLUMNS; its strings are borrowed from res. */
static void read_device(const PGresult *res, int row, struct device *d)
{
    d->deviceid = PQgetvalue(res, row, 0);
    d->name = PQgetvalue(res, row, 1);
    d->state = PQgetvalue(res, row, 2);
    d->lastseen = col_int(res, row, 3, 0);
    d->ssid = PQgetvalue(res, row, 4);
    d->ipaddr = PQgetvalue(res, row, 5);
    d->cfgsn = col_int(res, row, 6, 0);
    d->cfgsn_applied = col_int(res, row, 7, -1);
    d->flags = col_int(res, row, 8, 0);
    d->data = PQgetvalue(res, row, 9);
    d->poll_interval = col_int(res, row, 10, 0);
    d->datec = col_int(res, row, 11, 0);
    d->has_key = PQgetvalue(res, row, 12)[0] == 't';
    d->last_seqn = col_int(res, row, 13, -1);
    d->trust = col_int(res, row, 14, 0);
    d->location = PQgetvalue(res, row, 15);
    d->tags = PQgetvalue(res, row, 16);
    d->firmware = PQgetisnull(res, row, 17) ? NULL : PQgetvalue(res, row, 17);
    d->firmware_running = PQgetisnull(res, row, 18) ? NULL : PQgetvalue(res, row, 18);
    d->firmware_status = PQgetvalue(res, row, 19);
    d->firmware_size = col_int(res, row, 20, 0);
    d->firmware_sha256 = PQgetisnull(res, row, 21) ? NULL : PQgetvalue(res, row, 21);
    d->firmware_md5 = PQgetisnull(res, row, 22) ? NULL : PQgetvalue(res, row, 22);
}

/* Hands each device row of res to fn (when not NULL), as seen at *seen_now when that is not NULL
 * (what the SQLite backend hands over); returns how many there were. */
static int hand_devices(const PGresult *res, store_device_fn fn, void *user_data, const int64_t *seen_now)
{
    int n = PQntuples(res);
    for (int i = 0; fn && i < n; i++) {
        struct device d;
        read_device(res, i, &d);
        if (seen_now)
            d.lastseen = *seen_now;
        fn(&d, user_data);
    }
    return n;
}

/* Runs a statement returning device rows and hands them over: STORE_NOT_FOUND for none. */
static enum store_status device_rows(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                     const char *what, store_device_fn fn, void *user_data,
                                     const int64_t *seen_now, int *count)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (!res)
        return st;
    int n = hand_devices(res, fn, user_data, seen_now);
    PQclear(res);
    if (count)
        *count = n;
    return n > 0 ? STORE_OK : STORE_NOT_FOUND;
}

/* Reads one row of integers into out[0..n); STORE_NOT_FOUND when there is no row. */
static enum store_status read_ints(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                   const char *what, int64_t *out, int n)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (!res)
        return st;
    st = PQntuples(res) > 0 ? STORE_OK : STORE_NOT_FOUND;
    for (int i = 0; st == STORE_OK && i < n; i++)
        out[i] = col_int(res, 0, i, 0);
    PQclear(res);
    return st;
}

/* begin (PG_BEGIN or PG_BEGIN_READ) run; the transaction is open when it succeeded. */
static enum store_status begin_transaction(struct pg_store *s, enum pg_stmt begin, const char *what)
{
    enum store_status st = exec_stmt(s, begin, NULL, what, NULL);
    s->in_txn = st == STORE_OK;
    return st;
}

/* Commits, or rolls back what is open; a commit's failure is returned. */
static enum store_status finish_transaction(struct pg_store *s, bool commit, const char *what)
{
    enum store_status st = STORE_OK;
    if (commit)
        st = exec_stmt(s, PG_COMMIT, NULL, what, NULL);
    else if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        exec_stmt(s, PG_ROLLBACK, NULL, what, NULL);
    s->in_txn = false;
    return st;
}

/* Commits when st is STORE_OK, else rolls back; passes st (or the commit's failure) on. Inside an
 * admin's change it does neither: store_write_end() does either. */
static enum store_status end_transaction(struct pg_store *s, enum store_status st, const char *what)
{
    if (s->in_write)
        return st;
    enum store_status ended = finish_transaction(s, st == STORE_OK, what);
    return st == STORE_OK ? ended : st;
}

/* ---- opening: connection, migration, partitions ---- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg, (void)message;
}

/* Runs one of the migration's own statements (constant text, no parameters). */
static enum store_status exec_text(struct pg_store *s, const char *sql, const char *what)
{
    PGresult *res = PQexec(s->conn, sql);
    enum store_status st = STORE_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        st = fail(s, what, res);
    PQclear(res);
    return st;
}

/* db/pg/ in one transaction. The advisory lock first: the workers of every host may start at
 * once, and one of them migrates while the others wait, then find the schema current. */
static enum store_status migrate(struct pg_store *s)
{
    enum store_status st = exec_text(s, "BEGIN", "begin migration");
    if (st != STORE_OK)
        return st;
    st = exec_text(s,
                   "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK "); "
                   "CREATE TABLE IF NOT EXISTS provd_schema (version integer NOT NULL)",
                   "lock schema");
    int version = -1;
    if (st == STORE_OK) {
        PGresult *res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM provd_schema");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            version = atoi(PQgetvalue(res, 0, 0));
        else
            st = fail(s, "read schema version", res);
        PQclear(res);
    }
    if (st == STORE_OK && version > provd_pg_migration_count) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "the database has schema version %d; this provd knows %d: upgrade provd", version,
                 provd_pg_migration_count);
        st = STORE_ERROR;
    }
    for (int i = version; st == STORE_OK && i < provd_pg_migration_count; i++)
        st = exec_text(s, provd_pg_migrations[i].sql, provd_pg_migrations[i].name);
    if (st == STORE_OK && version < provd_pg_migration_count) {
        char count[16];
        snprintf(count, sizeof count, "%d", provd_pg_migration_count);
        const char *values[] = {count};
        st = exec_text(s, "DELETE FROM provd_schema", "set schema version");
        PGresult *res = st == STORE_OK
                            ? PQexecParams(s->conn, "INSERT INTO provd_schema VALUES ($1::integer)", 1, NULL,
                                           values, NULL, NULL, 0)
                            : NULL;
        if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
            st = fail(s, "set schema version", res);
        PQclear(res);
    }
    enum store_status end = exec_text(s, st == STORE_OK ? "COMMIT" : "ROLLBACK", "end migration");
    return st == STORE_OK ? end : st;
}

/* The day partitions from the day of first_at (yesterday at the earliest) to DAYS_AHEAD ahead. */
static enum store_status make_partitions(struct pg_store *s, int64_t first_at)
{
    struct params p = {0};
    param_int(&p, first_at);
    param_int(&p, DAYS_AHEAD);
    return exec_stmt(s, PG_PARTITIONS_MAKE, &p, "make partitions", NULL);
}

/* ---- heartbeat times, kept back to be written many at once ---- */

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Writes every time kept back. They are kept on failure (the next flush tries again). */
static enum store_status seen_write(struct pg_store *s)
{
    struct seen_times *seen = &s->seen;
    if (seen->count == 0)
        return STORE_OK;
    struct params p = {0};
    param_text(&p, seen->ids);
    param_text(&p, seen->times);
    enum store_status st = exec_stmt(s, PG_SEEN, &p, "write heartbeat times", NULL);
    if (st == STORE_OK)
        seen->count = 0, seen->ids_len = seen->times_len = 0;
    return st;
}

static int pg_flush(struct store *base, bool all)
{
    struct pg_store *s = pg_of(base);
    if (s->seen.count == 0)
        return -1;
    int64_t due = s->seen.first_ms + SEEN_HOLD_MS - monotonic_ms();
    if (due > 0 && !all)
        return (int)due;
    return seen_write(s) == STORE_OK ? -1 : SEEN_HOLD_MS;
}

/* Keeps id's heartbeat time back, and writes all kept once they are due or fill the batch. A time
 * that finds the batch full and the database failing is dropped (the device's next heartbeat
 * brings a newer one). */
static void seen_note(struct pg_store *s, const char *id, int64_t now)
{
    struct seen_times *seen = &s->seen;
    size_t id_len = strlen(id);
    if (id_len > SEEN_ID_MAX)
        return;
    if (seen->count == SEEN_MAX && seen_write(s) != STORE_OK)
        return;
    if (seen->count == 0)
        seen->first_ms = monotonic_ms();
    const char *sep = seen->count > 0 ? "," : "";
    seen->ids_len += (size_t)snprintf(seen->ids + seen->ids_len, sizeof seen->ids - seen->ids_len, "%s%s", sep, id);
    seen->times_len += (size_t)snprintf(seen->times + seen->times_len, sizeof seen->times - seen->times_len,
                                        "%s%lld", sep, (long long)now);
    seen->count++;
    pg_flush(&s->base, false);
}

/* A copy of a PostgreSQL database is PostgreSQL's own tools' job. */
static enum store_status pg_no_copy(struct store *base, const char *path, store_progress_fn fn, void *user_data)
{
    (void)path, (void)fn, (void)user_data;
    snprintf(base->errmsg, sizeof base->errmsg,
             "PostgreSQL databases are backed up with pg_dump and restored with pg_restore (README: Backups)");
    return STORE_ERROR;
}

static void pg_free(struct store *base)
{
    struct pg_store *s = pg_of(base);
    if (!s)
        return;
    if (PQstatus(s->conn) == CONNECTION_OK) /* a lost connection is not waited for at exit */
        seen_write(s);
    PQfinish(s->conn);
    free(s);
}

/* uri is expanded by libpq (expand_dbname): its own settings win over the defaults before it. */
struct store *store_pg_module_open(const char *uri, char *err, size_t err_len)
{
    struct pg_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->base.ops = &pg_ops;
    char *parse_err = NULL;
    PQconninfoOption *options = PQconninfoParse(uri, &parse_err);
    if (!options) {
        char line[200];
        first_line(line, sizeof line, parse_err ? parse_err : "out of memory");
        drop_quoted(line);
        snprintf(err, err_len, "malformed PostgreSQL URI: %s", line);
        PQfreemem(parse_err);
        free(s);
        return NULL;
    }
    const char *password = NULL;
    for (PQconninfoOption *o = options; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0)
            password = o->val;

    static const char *const keywords[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *values[] = {CONNECT_TIMEOUT, "provd", uri, NULL};
    s->conn = PQconnectdbParams(keywords, values, 1);
    if (!s->conn) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL); /* "already exists, skipping" and such */
    snprintf(s->where, sizeof s->where, "%.60s:%.8s/%.50s", PQhost(s->conn) ? PQhost(s->conn) : "",
             PQport(s->conn) ? PQport(s->conn) : "", PQdb(s->conn) ? PQdb(s->conn) : "");
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char line[200];
        first_line(line, sizeof line, PQerrorMessage(s->conn));
        snprintf(err, err_len, "cannot connect to PostgreSQL at %s: %s", s->where, line);
        goto fail;
    }
    if (migrate(s) != STORE_OK || make_partitions(s, 0) != STORE_OK) {
        snprintf(err, err_len, "PostgreSQL at %s: %s", s->where, s->base.errmsg);
        goto fail;
    }
    PQconninfoFree(options);
    return &s->base;
fail:
    scrub(err, password);
    PQconninfoFree(options);
    pg_free(&s->base);
    return NULL;
}

/* ---- operations ---- */

static enum store_status pg_ping(struct store *base)
{
    struct pg_store *s = pg_of(base);
    return exec_stmt(s, PG_PING, NULL, "ping", NULL);
}

/* Each commit is flushed to disk before it returns already (synchronous_commit is on by
 * default, and the heartbeat times alone are written without it). */
static enum store_status pg_sync_every_commit(struct store *base)
{
    (void)base;
    return STORE_OK;
}

static enum store_status pg_prepare_all(struct store *base)
{
    struct pg_store *s = pg_of(base);
    enum store_status st = STORE_OK;
    for (int i = 0; st == STORE_OK && i < PG__COUNT; i++)
        st = prepare(s, i);
    return st;
}

static enum store_status pg_read_begin(struct store *base)
{
    struct pg_store *s = pg_of(base);
    return begin_transaction(s, PG_BEGIN_READ, "begin read");
}

static void pg_read_end(struct store *base)
{
    struct pg_store *s = pg_of(base);
    if (s->in_txn)
        finish_transaction(s, PQstatus(s->conn) == CONNECTION_OK, "end read");
}

/* A new device, in one transaction under PG_REGISTRATION_LOCK: the caps counted, then the insert. */
static enum store_status register_new(struct pg_store *s, const char *deviceid, const char *ipaddr,
                                      const char *ssid, const char *location, const struct registration *reg,
                                      int64_t now, store_device_fn fn, void *user_data)
{
    enum store_status st = begin_transaction(s, PG_BEGIN, "register device: begin");
    if (st == STORE_OK)
        st = exec_stmt(s, PG_REGISTRATION_LOCK, NULL, "register device: lock", NULL);
    if (st == STORE_OK) {
        struct params p = {0};
        int64_t counts[2];
        param_text(&p, reg->from);
        param_int(&p, now - REGISTRATION_WINDOW_S);
        st = read_ints(s, PG_REGISTRATION_COUNTS, &p, "register device: count", counts, 2);
        if (st == STORE_OK)
            st = store_registration_room(reg, counts[0], counts[1]);
    }
    PGresult *res = NULL;
    if (st == STORE_OK) {
        struct params p = {0};
        param_text(&p, deviceid);
        param_text(&p, reg->policy == REGISTRATION_OPEN ? "accepted" : "pending");
        param_text(&p, ipaddr);
        param_text(&p, ssid);
        param_int(&p, now);
        param_text(&p, reg->from);
        param_text(&p, location);
        res = run(s, PG_DEVICE_REGISTER, &p, "register device", &st);
    }
    st = end_transaction(s, st, "register device: end");
    if (res && st == STORE_OK) {
        bool created = PQntuples(res) == 1 && PQgetvalue(res, 0, DEVICE_COLUMN_COUNT)[0] == 't'; /* after DEVICE_COLUMNS */
        hand_devices(res, fn, user_data, &now);
        st = created ? STORE_CREATED : STORE_OK;
    }
    PQclear(res);
    return st;
}

static enum store_status pg_device_register(struct store *base, const char *deviceid, const char *ipaddr,
                                            const char *ssid, const char *location,
                                            const struct registration *reg, int64_t now,
                                            store_device_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, ipaddr);
    param_text(&p, ssid);
    param_int(&p, now);
    param_text(&p, location);
    enum store_status st = device_rows(s, PG_DEVICE_TOUCH, &p, "register device", fn, user_data, &now, NULL);
    if (st != STORE_NOT_FOUND)
        return st;
    if (reg->policy == REGISTRATION_CLOSED)
        return STORE_REFUSED;
    return register_new(s, deviceid, ipaddr, ssid, location, reg, now, fn, user_data);
}

static enum store_status pg_device_heartbeat(struct store *base, const char *deviceid,
                                             enum store_caller caller, int64_t now, struct poll_facts *facts,
                                             char *stored, size_t stored_len)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    PGresult *res = run(s, PG_DEVICE_POLL_CURRENT, &p, "poll device", &st);
    if (!res)
        return st;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return STORE_NOT_FOUND;
    }
    read_trust(res, 0, &facts->trust, stored, stored_len);
    if (caller == STORE_CALLER_UNSIGNED && device_must_sign(stored[0], facts->trust.trust)) {
        PQclear(res);
        return STORE_UNPROVED;
    }
    facts->rejected = strcmp(facts->trust.state, "rejected") == 0;
    facts->cfgsn = col_int(res, 0, 4, 0);
    facts->cfgsn_applied = col_int(res, 0, 5, -1);
    snprintf(facts->firmware_status, sizeof facts->firmware_status, "%s", PQgetvalue(res, 0, 6));
    snprintf(facts->firmware_running, sizeof facts->firmware_running, "%s", PQgetvalue(res, 0, 7));
    PQclear(res);
    if (caller != STORE_CALLER_TO_PROVE)
        seen_note(s, deviceid, now);
    return STORE_OK;
}

static enum store_status pg_heartbeat_seen(struct store *base, const char *deviceid, int64_t now)
{
    seen_note(pg_of(base), deviceid, now);
    return STORE_OK;
}

/* A read, its time kept back as a heartbeat's; a new cfgsn_applied, rarely, in a durable commit. */
static enum store_status pg_device_poll(struct store *base, const char *deviceid, enum store_caller caller,
                                        int64_t applied, int64_t now, store_device_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    PGresult *res = run(s, PG_DEVICE_POLL, &p, "poll device", &st);
    if (!res)
        return st;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return STORE_NOT_FOUND;
    }
    /* Columns 12 and 14 of DEVICE_COLUMNS: key IS NOT NULL, trust. */
    bool has_key = PQgetvalue(res, 0, 12)[0] == 't';
    if (caller != STORE_CALLER_PROVED && device_must_sign(has_key, col_int(res, 0, 14, 0))) {
        PQclear(res);
        return STORE_UNPROVED;
    }
    seen_note(s, deviceid, now);
    if (applied < 0 || applied == col_int(res, 0, 7, -1)) {
        hand_devices(res, fn, user_data, &now);
        PQclear(res);
        return STORE_OK;
    }
    PQclear(res);
    p = (struct params){0};
    param_text(&p, deviceid);
    param_int(&p, applied);
    return device_rows(s, PG_DEVICE_APPLIED, &p, "poll device", fn, user_data, &now, NULL);
}

static enum store_status pg_device_get(struct store *base, const char *deviceid, store_device_fn fn,
                                       void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    return device_rows(s, PG_DEVICE_GET, &p, "read device", fn, user_data, NULL, NULL);
}

/* How many times an update and a create may lose to concurrent deletes and creates in a row. */
#define UPDATE_ATTEMPTS 3

/* The conditional update; when no row matched, STORE_STALE if an If-Match was given (the
 * device has another cfgsn, or does not exist), else the create (PG_DEVICE_CREATE), and should
 * a concurrent create come first, the update again. */
static enum store_status update_row(struct pg_store *s, const char *deviceid, const struct device_update *u,
                                    int64_t now, store_device_fn fn, void *user_data)
{
    enum store_status st = STORE_OK;
    int64_t poll_interval = u->set_poll_interval && u->poll_interval > 0 ? u->poll_interval : 0;
    for (int attempt = 0; st == STORE_OK && attempt < UPDATE_ATTEMPTS; attempt++) {
        struct params p = {0};
        param_text(&p, deviceid);
        param_text(&p, u->name);
        param_text(&p, u->data);
        param_text(&p, u->state);
        param_bool(&p, u->set_poll_interval);
        param_int_or_null(&p, poll_interval > 0, poll_interval);
        param_int(&p, u->cfgsn);
        param_bool(&p, u->seqn_reset);
        param_int(&p, u->if_match);
        param_text(&p, u->set_location ? u->location : NULL);
        param_bool(&p, u->set_location);
        param_bool(&p, u->set_firmware);
        param_text(&p, u->set_firmware ? u->firmware : NULL);
        st = device_rows(s, PG_DEVICE_UPDATE, &p, "update device", fn, user_data, NULL, NULL);
        if (st != STORE_NOT_FOUND)
            return st;
        if (u->if_match != IF_MATCH_NONE)
            return STORE_STALE;
        p = (struct params){0};
        param_text(&p, deviceid);
        param_text(&p, u->name);
        param_text(&p, u->data);
        param_text(&p, u->state);
        param_int_or_null(&p, poll_interval > 0, poll_interval);
        param_int(&p, u->cfgsn > 0 ? u->cfgsn : 0);
        param_int(&p, now);
        param_text(&p, u->set_location ? u->location : NULL);
        param_text(&p, u->set_firmware ? u->firmware : NULL);
        st = device_rows(s, PG_DEVICE_CREATE, &p, "create device", fn, user_data, NULL, NULL);
        if (st != STORE_NOT_FOUND)
            return st == STORE_OK ? STORE_CREATED : st;
        st = STORE_OK; /* a concurrent create came first: update that device */
    }
    if (st == STORE_OK) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "update device: created and deleted meanwhile, %d times", UPDATE_ATTEMPTS);
        st = STORE_ERROR;
    }
    return st;
}

/* A transaction under PG_TAGS_LOCK: begun, then ended (end_transaction()) by its caller. Inside
 * an admin's change (store_write_begin()) it is that transaction, which its end commits or rolls
 * back with the change's audit entry. */
static enum store_status begin_tags(struct pg_store *s, const char *what)
{
    enum store_status st = s->in_write ? STORE_OK : begin_transaction(s, PG_BEGIN, what);
    return st == STORE_OK ? exec_stmt(s, PG_TAGS_LOCK, NULL, what, NULL) : st;
}

/* The row's change, then (in one transaction with it, under PG_TAGS_LOCK) its new tags; the
 * device is handed over once they are written. */
static enum store_status pg_device_update(struct store *base, const char *deviceid,
                                          const struct device_update *u, int64_t now, store_device_fn fn,
                                          void *user_data)
{
    struct pg_store *s = pg_of(base);
    if (!u->tags)
        return update_row(s, deviceid, u, now, fn, user_data);
    enum store_status st = begin_tags(s, "update device: begin");
    enum store_status result = st == STORE_OK ? update_row(s, deviceid, u, now, NULL, NULL) : st;
    st = result == STORE_CREATED ? STORE_OK : result;
    if (st == STORE_OK) {
        struct params p = {0};
        param_text(&p, deviceid);
        param_text(&p, u->tags);
        st = exec_stmt(s, PG_TAGS_SET, &p, "update device: tags", NULL);
    }
    if (st == STORE_OK)
        st = pg_device_get(base, deviceid, fn, user_data);
    st = end_transaction(s, st, "update device: end");
    return st == STORE_OK ? result : st;
}

/* A write of at most one row: STORE_NOT_FOUND when none changed. */
static enum store_status write_one_row(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                       const char *what)
{
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, id, p, what, &rows);
    return st == STORE_OK && rows == 0 ? STORE_NOT_FOUND : st;
}

static enum store_status pg_device_delete(struct store *base, const char *deviceid)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    return write_one_row(s, PG_DEVICE_DELETE, &p, "delete device");
}

static enum store_status pg_device_keys_plain(struct store *base, int max, store_key_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, max);
    PGresult *res = run(s, PG_DEVICE_KEYS_PLAIN, &p, "read plain keys", &st);
    for (int i = 0; res && i < PQntuples(res); i++)
        fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), user_data);
    PQclear(res);
    return st;
}

static enum store_status pg_device_key_replace(struct store *base, const char *deviceid, const char *old,
                                               const char *key)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, old);
    param_text(&p, key);
    return write_one_row(s, PG_DEVICE_KEY_REPLACE, &p, "seal device key");
}

static enum store_status pg_device_set_key(struct store *base, const char *deviceid, const char *key)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, key);
    return write_one_row(s, PG_DEVICE_SET_KEY, &p, "set device key");
}

/* $1 first, then DEVICE_MATCH_SQL's parameters and the limit, $7. */
static void param_filter(struct params *p, const char *first, const struct device_filter *f)
{
    param_text(p, first);
    param_text(p, f->state);
    if (f->online >= 0)
        param_bool(p, f->online != 0);
    else
        param_text(p, NULL); /* any */
    param_int(p, f->now);
    param_int(p, f->default_interval);
    param_text(p, f->q);
    param_int(p, f->limit);
    param_text(p, f->tag);
    param_text(p, f->ids);
}

_Static_assert(DEVICE_TAGS_MAX == 16, "PG_DEVICE_BULK's tag cap");
_Static_assert(DATA_MAX == 8192, "BULK_SET_CHANGES's size cap");

static enum store_status pg_device_count(struct store *base, const struct device_filter *f, int64_t *count)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_filter(&p, NULL, f);
    p.value[6] = NULL; /* $7, the limit: not used */
    return read_ints(s, PG_DEVICE_COUNT, &p, "count devices", count, 1);
}

static enum store_status pg_device_bulk(struct store *base, const struct device_filter *f,
                                        const struct device_bulk *b, int64_t *affected)
{
    struct pg_store *s = pg_of(base);
    if ((unsigned)b->action > DEVICE_BULK_SET) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk: no action %d", (int)b->action);
        return STORE_ERROR;
    }
    struct params p = {0};
    param_filter(&p, bulk_text(b), f);
    if (b->action == DEVICE_BULK_SET)
        param_text(&p, b->value);
    enum pg_stmt id = PG_DEVICE_BULK + b->action;
    if (b->action != DEVICE_BULK_TAG && b->action != DEVICE_BULK_UNTAG)
        return exec_stmt(s, id, &p, "bulk change", affected);
    enum store_status st = begin_tags(s, "bulk tags: begin");
    if (st == STORE_OK)
        st = exec_stmt(s, id, &p, "bulk tags", affected);
    return end_transaction(s, st, "bulk tags: end");
}

static enum store_status pg_device_list(struct store *base, const struct device_filter *f, store_device_fn fn,
                                        void *user_data, int *count)
{
    struct pg_store *s = pg_of(base);
    if ((unsigned)f->sort >= DEVICE_SORT__COUNT) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "list devices: no sort %d", (int)f->sort);
        return STORE_ERROR;
    }
    enum pg_stmt id = PG_DEVICE_LIST + 4 * f->sort + 2 * f->descending + (f->after != NULL);
    struct params p = {0};
    param_filter(&p, f->after, f);
    int n = 0;
    enum store_status st = device_rows(s, id, &p, "list devices", fn, user_data, NULL, &n);
    if (count)
        *count = n;
    if (st != STORE_NOT_FOUND)
        return st;
    /* An empty page: the end, or (sorted by a column) a cursor that names no device. */
    if (f->after && f->sort != DEVICE_SORT_ID)
        return pg_device_get(base, f->after, NULL, NULL);
    return STORE_OK;
}

/* A count of devices by liveness at $1 (default interval $2) into out[0..n). */
static enum store_status count_devices(struct pg_store *s, enum pg_stmt id, int64_t now, int64_t default_interval,
                                       const char *what, int64_t *out, int n)
{
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, default_interval);
    return read_ints(s, id, &p, what, out, n);
}

static enum store_status pg_reading_count(struct store *base, int64_t *count)
{
    return read_ints(pg_of(base), PG_TELEMETRY_COUNT, NULL, "count readings", count, 1);
}

static enum store_status pg_fleet(struct store *base, int64_t now, int64_t default_interval,
                                  int64_t counts[FLEET__COUNT])
{
    return count_devices(pg_of(base), PG_DEVICE_FLEET, now, default_interval, "count the fleet", counts,
                         FLEET__COUNT);
}

static enum store_status pg_device_trust(struct store *base, const char *deviceid, struct device_trust *out,
                                        char *stored, size_t stored_len)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    PGresult *res = run(s, PG_DEVICE_TRUST, &p, "read device trust", &st);
    if (!res)
        return st;
    st = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK)
        read_trust(res, 0, out, stored, stored_len);
    PQclear(res);
    return st;
}

static enum store_status pg_device_signed(struct store *base, const char *deviceid, int64_t t, bool state_changing)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, t);
    param_bool(&p, state_changing);
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, PG_DEVICE_SIGNED, &p, "record signed call", &rows);
    return st == STORE_OK && rows == 0 ? STORE_STALE : st;
}

/* PG_READING_ADD; no row: the device does not exist, or the SEQN is not above its last one. */
static enum store_status pg_reading_add(struct store *base, const char *deviceid, int64_t seqn,
                                        int64_t received_at, int64_t ts, const char *reading,
                                        size_t reading_len, int64_t epoch, int64_t envelope)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, seqn);
    param_int(&p, received_at);
    param_int_or_null(&p, ts != TS_NONE, ts);
    param_bytes(&p, reading, reading_len); /* binary: exactly reading_len bytes of text */
    param_int(&p, epoch);
    param_int(&p, envelope);
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, PG_READING_ADD, &p, "store reading", &rows);
    if (st != STORE_OK || rows > 0)
        return st;
    p = (struct params){0};
    param_text(&p, deviceid);
    st = exec_stmt(s, PG_DEVICE_EXISTS, &p, "read last SEQN", &rows);
    return st != STORE_OK ? st : rows > 0 ? STORE_STALE : STORE_NOT_FOUND;
}

/* Stops the connection's running statement (the caller then reads its results to the end). */
static void cancel(struct pg_store *s)
{
    PGcancel *c = PQgetCancel(s->conn);
    char why[128];
    if (c)
        PQcancel(c, why, sizeof why);
    PQfreeCancel(c);
}

/* The rows come one at a time (single-row mode), so that an export of all of a device's readings
 * holds one in memory, not all of them; a walk stopped early cancels the rest. */
static enum store_status pg_reading_list(struct store *base, const char *deviceid,
                                         const struct reading_filter *f, store_reading_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum pg_stmt id = f->ascending ? PG_READING_LIST_ASC : PG_READING_LIST_DESC;
    enum store_status st = prepare(s, id);
    if (st != STORE_OK)
        return st;
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, f->since);
    param_int(&p, f->until);
    param_int_or_null(&p, f->after >= 0, f->after);
    param_int_or_null(&p, f->limit >= 0, f->limit); /* LIMIT NULL: all */
    char name[32];
    if (!PQsendQueryPrepared(s->conn, stmt_name(id, name, sizeof name), p.n, p.value, p.length, p.format, 0))
        return fail(s, "list readings", NULL);
    PQsetSingleRowMode(s->conn);
    bool walking = true;
    PGresult *res;
    while ((res = PQgetResult(s->conn))) {
        ExecStatusType rs = PQresultStatus(res);
        if (rs == PGRES_SINGLE_TUPLE && walking) {
            struct reading r = {
                .id = col_int(res, 0, 0, 0),
                .seqn = col_int(res, 0, 1, 0),
                .received_at = col_int(res, 0, 2, 0),
                .ts = col_int(res, 0, 3, TS_NONE),
                .reading = PQgetvalue(res, 0, 4),
            };
            walking = fn(&r, user_data);
            if (!walking)
                cancel(s);
        } else if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && walking && st == STORE_OK) {
            st = fail(s, "list readings", res);
        }
        PQclear(res);
    }
    return st;
}

static enum store_status pg_reading_buckets(struct store *base, const char *deviceid, int64_t since,
                                            int64_t until, int64_t bucket_seconds, store_bucket_fn fn,
                                            void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, since);
    param_int(&p, until);
    param_int(&p, bucket_seconds);
    PGresult *res = run(s, PG_READING_BUCKETS, &p, "bucket readings", &st);
    if (!res)
        return st;
    for (int i = 0, n = PQntuples(res); i < n; i++) {
        struct bucket_stat b = {
            .start = col_int(res, i, 0, 0),
            .field = PQgetvalue(res, i, 1),
            .min = strtod(PQgetvalue(res, i, 2), NULL),
            .avg = strtod(PQgetvalue(res, i, 3), NULL),
            .max = strtod(PQgetvalue(res, i, 4), NULL),
            .count = col_int(res, i, 5, 0),
        };
        fn(&b, user_data);
    }
    PQclear(res);
    return STORE_OK;
}

/* Runs a delete of up to $2 rows older than $1 (statement id); *deleted says how many went. */
static enum store_status delete_batch(struct pg_store *s, enum pg_stmt id, int64_t before, int max, int *deleted,
                                      const char *what)
{
    int64_t rows = 0;
    struct params p = {0};
    param_int(&p, before);
    param_int(&p, max);
    enum store_status st = exec_stmt(s, id, &p, what, &rows);
    *deleted = (int)rows;
    return st;
}

static enum store_status pg_device_expire_pending(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(pg_of(base), PG_DEVICE_EXPIRE_PENDING, before, max, deleted, "expire pending devices");
}

/* Retention by days: the day partitions over by `before` are dropped whole (their readings
 * counted first), and of the readings in the default partition (days without a partition of
 * their own) up to max received before it deleted, oldest arrivals first. A reading in a day
 * partition goes with its day, so at most a day after `before`; *deleted may exceed max. Then
 * the partitions ahead are made, from the day of `before` on (never a day just dropped). */
static enum store_status pg_reading_prune(struct store *base, int64_t before, int max, int *deleted)
{
    struct pg_store *s = pg_of(base);
    *deleted = 0;
    struct params p = {0};
    param_int(&p, before);
    int64_t dropped = 0, rows = 0;
    enum store_status st = read_ints(s, PG_PARTITIONS_DROP, &p, "drop old partitions", &dropped, 1);
    if (st == STORE_OK) {
        param_int(&p, max);
        st = exec_stmt(s, PG_PRUNE_DEFAULT, &p, "prune readings", &rows);
    }
    if (st == STORE_OK)
        st = make_partitions(s, before);
    int64_t total = dropped + rows;
    *deleted = total > INT_MAX ? INT_MAX : (int)total;
    return st;
}

static enum store_status pg_token_add(struct store *base, const char *name,
                                      const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                      int64_t expires)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, name);
    param_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
    param_int(&p, now);
    param_int(&p, expires);
    enum store_status st = exec_stmt(s, PG_TOKEN_ADD, &p, "add token", NULL);
    return st == STORE_ERROR && strcmp(s->sqlstate, "23505") == 0 ? STORE_EXISTS : st; /* the name or hash */
}

static enum store_status pg_token_check(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                        int64_t *expires, int64_t *last_used, char name[STORE_TOKEN_NAME_MAX + 1])
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
    PGresult *res = run(s, PG_TOKEN_CHECK, &p, "check token", &st);
    if (!res)
        return st;
    st = PQntuples(res) > 0 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK) {
        *expires = col_int(res, 0, 0, 0);
        *last_used = col_int(res, 0, 1, 0);
        snprintf(name, STORE_TOKEN_NAME_MAX + 1, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return st;
}

/* A later use already recorded (another host's) counts as this one. */
static enum store_status pg_token_used(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                       int64_t now)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
    param_int(&p, now);
    return exec_stmt(s, PG_TOKEN_USED, &p, "record token use", NULL);
}

static enum store_status pg_token_list(struct store *base, store_token_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    PGresult *res = run(s, PG_TOKEN_LIST, NULL, "list tokens", &st);
    for (int i = 0, n = res ? PQntuples(res) : 0; i < n; i++)
        fn(&(struct token_info){PQgetvalue(res, i, 0), col_int(res, i, 1, 0), col_int(res, i, 2, 0),
                                col_int(res, i, 3, 0)},
           user_data);
    PQclear(res);
    return st;
}

static enum store_status pg_token_revoke(struct store *base, const char *name)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, name);
    return write_one_row(s, PG_TOKEN_REVOKE, &p, "revoke token");
}

/* ---- admin changes, the audit trail and the overview ---- */

static enum store_status pg_write_begin(struct store *base)
{
    struct pg_store *s = pg_of(base);
    enum store_status st = begin_transaction(s, PG_BEGIN, "begin an admin's change");
    s->in_write = st == STORE_OK;
    return st;
}

/* A transaction that failed is rolled back whichever end was asked for (PostgreSQL answers such a
 * COMMIT with a ROLLBACK): the commit fails then. */
static enum store_status pg_write_end(struct store *base, bool commit)
{
    struct pg_store *s = pg_of(base);
    s->in_write = false;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->in_txn = false;
        return commit ? fail(s, "commit an admin's change", NULL) : STORE_OK;
    }
    bool failed = PQtransactionStatus(s->conn) == PQTRANS_INERROR;
    if (!commit || failed) {
        finish_transaction(s, false, "roll back an admin's change");
        if (commit)
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "commit an admin's change: it had failed");
        return commit ? STORE_ERROR : STORE_OK;
    }
    return finish_transaction(s, true, "commit an admin's change");
}

static enum store_status pg_device_lock(struct store *base, const char *deviceid, store_device_fn fn,
                                        void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    return device_rows(s, PG_DEVICE_LOCK, &p, "lock device", fn, user_data, NULL, NULL);
}

static enum store_status pg_audit_add(struct store *base, const struct audit_entry *e)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, e->at);
    param_text(&p, e->via);
    param_text(&p, e->actor);
    param_text(&p, e->action);
    param_text(&p, e->target);
    param_text(&p, e->before);
    param_text(&p, e->after);
    return exec_stmt(s, PG_AUDIT_ADD, &p, "add an audit entry", NULL);
}

static const char *value_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static enum store_status pg_audit_list(struct store *base, const struct audit_filter *f, store_audit_fn fn,
                                       void *user_data, int *count)
{
    struct pg_store *s = pg_of(base);
    *count = 0;
    enum store_status st;
    struct params p = {0};
    param_int_or_null(&p, f->after >= 0, f->after);
    param_int(&p, f->since);
    param_int(&p, f->limit);
    if (f->device)
        param_text(&p, f->device);
    PGresult *res = run(s, f->device ? PG_AUDIT_LIST_DEVICE : PG_AUDIT_LIST, &p, "list the audit trail", &st);
    for (int i = 0, n = res ? PQntuples(res) : 0; i < n; i++) {
        struct audit_entry e = {
            .id = col_int(res, i, 0, 0),
            .at = col_int(res, i, 1, 0),
            .via = PQgetvalue(res, i, 2),
            .actor = PQgetvalue(res, i, 3),
            .action = PQgetvalue(res, i, 4),
            .target = PQgetvalue(res, i, 5),
            .before = value_or_null(res, i, 6),
            .after = value_or_null(res, i, 7),
        };
        fn(&e, user_data);
        ++*count;
    }
    PQclear(res);
    return st;
}

static enum store_status pg_audit_prune(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(pg_of(base), PG_AUDIT_PRUNE, before, max, deleted, "prune the audit trail");
}

static enum store_status pg_recently_offline(struct store *base, int64_t now, int64_t default_interval, int max,
                                             store_device_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, default_interval);
    param_int(&p, max);
    enum store_status st =
        device_rows(s, PG_RECENTLY_OFFLINE, &p, "list devices gone offline", fn, user_data, NULL, NULL);
    return st == STORE_NOT_FOUND ? STORE_OK : st;
}

static enum store_status pg_reading_last_id(struct store *base, int64_t *id)
{
    struct pg_store *s = pg_of(base);
    return read_ints(s, PG_READING_LAST_ID, NULL, "read the last reading's id", id, 1);
}

/* ---- alerts ---- */

static enum store_status pg_alert_lead(struct store *base)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    PGresult *res = run(s, PG_ALERT_LEAD, NULL, "take the alert sweeper's lock", &st);
    if (res)
        st = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't' ? STORE_OK : STORE_STALE;
    PQclear(res);
    return st;
}

static enum store_status pg_alert_sweep(struct store *base, int64_t now, int64_t default_interval, int max,
                                        int *judged)
{
    struct pg_store *s = pg_of(base);
    *judged = 0;
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, default_interval);
    param_int(&p, max);
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, PG_ALERT_SWEEP, &p, "alert sweep", &rows);
    *judged = (int)rows;
    return st;
}

static enum store_status pg_alert_enqueue(struct store *base, const char *kind, const char *subject, int64_t at,
                                          const char *detail)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, subject);
    param_text(&p, kind);
    param_int(&p, at);
    param_text(&p, detail);
    return exec_stmt(s, PG_ALERT_ENQUEUE, &p, "enqueue alert", NULL);
}

static const char *col_text_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static enum store_status pg_alert_due(struct store *base, int64_t now, int max, store_alert_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, max);
    PGresult *res = run(s, PG_ALERT_DUE, &p, "alerts due", &st);
    for (int i = 0, n = res ? PQntuples(res) : 0; i < n; i++) {
        struct alert a = {.id = col_int(res, i, 0, 0), .kind = PQgetvalue(res, i, 1),
                          .subject = PQgetvalue(res, i, 2), .at = col_int(res, i, 3, 0),
                          .name = col_text_or_null(res, i, 4), .liveness_from = col_text_or_null(res, i, 5),
                          .liveness_to = col_text_or_null(res, i, 6), .lastseen = col_int(res, i, 7, 0),
                          .detail = col_text_or_null(res, i, 8), .attempts = col_int(res, i, 9, 0)};
        fn(&a, user_data);
    }
    PQclear(res);
    return st;
}

/* Statement id on alert $1 with $2 (value: an integer, or a boolean when is_bool): STORE_NOT_FOUND
 * when the alert is not in the outbox. */
static enum store_status alert_write(struct store *base, enum pg_stmt id, int64_t alert, int64_t value,
                                     bool is_bool, const char *what)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, alert);
    if (is_bool)
        param_bool(&p, value != 0);
    else
        param_int(&p, value);
    return write_one_row(s, id, &p, what);
}

static enum store_status pg_alert_done(struct store *base, int64_t id, bool delivered)
{
    return alert_write(base, PG_ALERT_DONE, id, delivered, true, "alert done");
}

static enum store_status pg_alert_retry(struct store *base, int64_t id, int64_t next_at)
{
    return alert_write(base, PG_ALERT_RETRY, id, next_at, false, "alert retry");
}

static enum store_status pg_alert_counts(struct store *base, struct alert_counts *out)
{
    struct pg_store *s = pg_of(base);
    int64_t c[3] = {0};
    enum store_status st = read_ints(s, PG_ALERT_COUNTS, NULL, "count alerts", c, 3);
    *out = (struct alert_counts){.pending = c[0], .sent = c[1], .failed = c[2]};
    return st;
}

/* ---- bulk loading ---- */

static enum store_status bulk_bad_id(struct pg_store *s, const char *prefix)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk load: prefix \"%.64s\" makes ids longer than 64",
             prefix);
    return STORE_ERROR;
}

/* One statement, so one transaction: a clash with an existing id leaves none of the batch. */
static enum store_status pg_device_bulk_add(struct store *base, const char *prefix, int64_t first,
                                            int64_t count, const char *key, int64_t now)
{
    struct pg_store *s = pg_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    struct params p = {0};
    param_text(&p, prefix);
    param_int(&p, first);
    param_int(&p, first + count - 1);
    param_int(&p, now);
    param_text(&p, key);
    return exec_stmt(s, PG_BULK_DEVICES, &p, "bulk devices", NULL);
}

/* COPY text: what the reading text needs escaped. */
struct copy_buffer {
    char *data;
    size_t len;
};

static void copy_escaped(struct copy_buffer *b, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : NULL;
        if (esc) {
            memcpy(b->data + b->len, esc, 2);
            b->len += 2;
        } else {
            b->data[b->len++] = c;
        }
    }
}

static enum store_status copy_flush(struct pg_store *s, struct copy_buffer *b)
{
    if (b->len > 0 && PQputCopyData(s->conn, b->data, (int)b->len) != 1)
        return fail(s, "bulk readings: copy", NULL);
    b->len = 0;
    return STORE_OK;
}

/* The readings of the claimed devices (res: deviceid, seqn_epoch) as one COPY. */
static enum store_status copy_readings(struct pg_store *s, const PGresult *claimed, int64_t per_device,
                                       int64_t now, int64_t step, store_reading_text_fn fn, void *user_data,
                                       struct copy_buffer *b)
{
    PGresult *res = PQexec(s->conn, "COPY telemetry (deviceid, epoch, seqn, received_at, data) FROM STDIN");
    enum store_status st =
        PQresultStatus(res) == PGRES_COPY_IN ? STORE_OK : fail(s, "bulk readings: copy", res);
    PQclear(res);
    if (st != STORE_OK)
        return st;
    char text[512];
    for (int i = 0, n = PQntuples(claimed); st == STORE_OK && i < n; i++) {
        const char *deviceid = PQgetvalue(claimed, i, 0), *epoch = PQgetvalue(claimed, i, 1);
        for (int64_t seqn = 1; st == STORE_OK && seqn <= per_device; seqn++) {
            size_t len = fn(seqn, text, sizeof text, user_data);
            if (len == 0 || len >= sizeof text) {
                snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk readings: reading %lld has no text",
                         (long long)seqn);
                st = STORE_ERROR;
                break;
            }
            if (b->len + 2 * (strlen(deviceid) + len) + 128 > COPY_BUFFER &&
                (st = copy_flush(s, b)) != STORE_OK)
                break;
            copy_escaped(b, deviceid, strlen(deviceid));
            b->len += (size_t)snprintf(b->data + b->len, COPY_BUFFER - b->len, "\t%s\t%lld\t%lld\t", epoch,
                                       (long long)seqn, (long long)(now - (per_device - seqn) * step));
            copy_escaped(b, text, len);
            b->data[b->len++] = '\n';
        }
    }
    if (st == STORE_OK)
        st = copy_flush(s, b);
    if (PQputCopyEnd(s->conn, st == STORE_OK ? NULL : "bulk load abandoned") != 1 && st == STORE_OK)
        st = fail(s, "bulk readings: copy", NULL);
    while ((res = PQgetResult(s->conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && st == STORE_OK)
            st = fail(s, "bulk readings: copy", res);
        PQclear(res);
    }
    return st;
}

/* One transaction: per chunk of devices, their last SEQN and heartbeat time claimed (all must
 * exist, else STORE_NOT_FOUND and nothing stays), then their readings copied in. */
static enum store_status pg_reading_bulk_add(struct store *base, const char *prefix, int64_t first,
                                             int64_t count, int64_t per_device, int64_t now, int64_t step,
                                             store_reading_text_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    struct copy_buffer b = {malloc(COPY_BUFFER), 0};
    if (!b.data) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk readings: out of memory");
        return STORE_ERROR;
    }
    enum store_status st = begin_transaction(s, PG_BEGIN, "bulk readings: begin");
    for (int64_t n = first; st == STORE_OK && n < first + count; n += BULK_CHUNK) {
        int64_t last = n + BULK_CHUNK - 1 < first + count - 1 ? n + BULK_CHUNK - 1 : first + count - 1;
        struct params p = {0};
        param_text(&p, prefix);
        param_int(&p, n);
        param_int(&p, last);
        param_int(&p, per_device);
        param_int(&p, now);
        PGresult *claimed = run(s, PG_BULK_CLAIM, &p, "bulk readings: find devices", &st);
        if (claimed && PQntuples(claimed) != last - n + 1)
            st = STORE_NOT_FOUND;
        if (st == STORE_OK)
            st = copy_readings(s, claimed, per_device, now, step, fn, user_data, &b);
        PQclear(claimed);
    }
    free(b.data);
    return end_transaction(s, st, "bulk readings: end");
}

/* ---- firmware ---- */

/* Runs a statement returning firmware rows, handing each to fn: STORE_NOT_FOUND for none (but
 * the list). */
static enum store_status firmware_rows(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                       store_firmware_fn fn, void *user_data)
{
    enum store_status st;
    PGresult *res = run(s, id, p, "read firmware", &st);
    if (!res)
        return st;
    int n = PQntuples(res);
    for (int i = 0; fn && i < n; i++) {
        struct firmware fw = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                              col_int(res, i, 3, 0), col_int(res, i, 4, 0)};
        fn(&fw, user_data);
    }
    PQclear(res);
    return n > 0 || id == PG_FIRMWARE_LIST ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status pg_firmware_running(struct store *base, int max, store_version_count_fn fn,
                                             void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, max);
    PGresult *res = run(s, PG_FIRMWARE_RUNNING, &p, "count running firmware", &st);
    if (!res)
        return st;
    for (int i = 0; i < PQntuples(res); i++)
        fn(PQgetvalue(res, i, 0), col_int(res, i, 1, 0), user_data);
    PQclear(res);
    return STORE_OK;
}

static enum store_status pg_firmware_get(struct store *base, const char *version, store_firmware_fn fn,
                                         void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, version);
    return firmware_rows(s, PG_FIRMWARE_GET, &p, fn, user_data);
}

static enum store_status pg_firmware_list(struct store *base, store_firmware_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    return firmware_rows(s, PG_FIRMWARE_LIST, NULL, fn, user_data);
}

static enum store_status pg_firmware_add(struct store *base, const struct firmware *fw, const void *image,
                                         store_firmware_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, fw->version);
    param_text(&p, fw->sha256);
    param_int(&p, fw->size);
    param_text(&p, fw->md5);
    param_int(&p, fw->created);
    param_bytes(&p, image, (size_t)fw->size);
    int64_t rows = 0;
    enum store_status st = s->in_write ? STORE_OK : begin_transaction(s, PG_BEGIN, "add firmware: begin");
    if (st == STORE_OK)
        st = exec_stmt(s, PG_FIRMWARE_ADD, &p, "add firmware", &rows);
    /* Committed when made; else (the version exists) rolled back, with bytes it may have stored
     * for nothing -- inside an admin's change, by its end, which rolls a refused upload back. */
    bool created = st == STORE_OK && rows == 1;
    enum store_status ended = end_transaction(s, created ? STORE_OK : STORE_EXISTS, "add firmware: end");
    if (created)
        return ended == STORE_OK ? STORE_CREATED : ended;
    if (st != STORE_OK)
        return st;
    struct firmware_same c = {fw->sha256, false, fn, user_data};
    p = (struct params){0};
    param_text(&p, fw->version);
    st = firmware_rows(s, PG_FIRMWARE_GET, &p, firmware_compare, &c);
    return st == STORE_OK ? (c.same ? STORE_OK : STORE_EXISTS) : st;
}

static enum store_status pg_firmware_delete(struct store *base, const char *version)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, version);
    int64_t deleted = 0;
    enum store_status st = read_ints(s, PG_FIRMWARE_DELETE, &p, "delete firmware", &deleted, 1);
    if (st != STORE_OK || deleted == 1)
        return st;
    st = firmware_rows(s, PG_FIRMWARE_GET, &p, NULL, NULL);
    return st == STORE_OK ? STORE_STALE : st;
}

static enum store_status pg_firmware_image(struct store *base, const char *sha256, void **image, size_t *size)
{
    struct pg_store *s = pg_of(base);
    *image = NULL;
    enum store_status st = prepare(s, PG_FIRMWARE_IMAGE);
    if (st != STORE_OK)
        return st;
    char name[32];
    const char *values[1] = {sha256};
    /* The bytes in binary: text would be twice their size in hex. */
    PGresult *res = PQexecPrepared(s->conn, stmt_name(PG_FIRMWARE_IMAGE, name, sizeof name), 1, values, NULL,
                                   NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        st = fail(s, "read firmware image", res);
    } else if (PQntuples(res) == 0) {
        st = STORE_NOT_FOUND;
    } else {
        *size = (size_t)PQgetlength(res, 0, 0);
        *image = malloc(*size ? *size : 1);
        if (*image)
            memcpy(*image, PQgetvalue(res, 0, 0), *size);
        else
            st = STORE_ERROR;
    }
    PQclear(res);
    return st;
}

/* Runs a statement and copies the first column of its one row into out (out_len bytes):
 * STORE_NOT_FOUND when there is no row. */
static enum store_status read_text(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                                   char *out, size_t out_len)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (!res)
        return st;
    st = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK)
        snprintf(out, out_len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return st;
}

static enum store_status pg_device_firmware(struct store *base, const char *deviceid, enum firmware_event event,
                                            const char *version, char status[FIRMWARE_STATUS_LEN])
{
    char after[FIRMWARE_STATUS_LEN];
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, (int64_t)event);
    param_text(&p, version);
    return read_text(pg_of(base), PG_DEVICE_FIRMWARE, &p, "device firmware", status ? status : after,
                     FIRMWARE_STATUS_LEN);
}

static enum store_status pg_device_by_mac(struct store *base, const char *mac12, char deviceid[DEVICE_ID_MAX + 1])
{
    struct params p = {0};
    param_text(&p, mac12);
    return read_text(pg_of(base), PG_DEVICE_BY_MAC, &p, "find device by MAC", deviceid, DEVICE_ID_MAX + 1);
}

/* ---- staged rollouts ---- */

static enum store_status pg_rollout_add(struct store *base, const struct rollout *r, int64_t *id)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, r->firmware);
    param_text(&p, r->tag);
    param_text(&p, r->stages);
    param_int(&p, r->success_threshold);
    param_int(&p, r->failure_threshold);
    param_int(&p, r->timeout);
    param_int(&p, r->created);
    enum store_status st = read_ints(s, PG_ROLLOUT_ADD, &p, "add rollout", id, 1);
    return st == STORE_OK ? STORE_CREATED : st == STORE_NOT_FOUND ? STORE_EXISTS : st;
}

static enum store_status pg_rollout_list(struct store *base, int64_t id, const char *state, store_rollout_fn fn,
                                         void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, id);
    param_text(&p, state);
    PGresult *res = run(s, PG_ROLLOUT_LIST, &p, "list rollouts", &st);
    if (!res)
        return st;
    int n = PQntuples(res);
    for (int i = 0; fn && i < n; i++) {
        struct rollout r = {
            .id = col_int(res, i, 0, 0),
            .firmware = PQgetvalue(res, i, 1),
            .tag = PQgetvalue(res, i, 2),
            .stages = PQgetvalue(res, i, 3),
            .success_threshold = (int)col_int(res, i, 4, 0),
            .failure_threshold = (int)col_int(res, i, 5, 0),
            .timeout = col_int(res, i, 6, 0),
            .state = PQgetvalue(res, i, 7),
            .stage = (int)col_int(res, i, 8, 0),
            .reason = PQgetvalue(res, i, 9),
            .created = col_int(res, i, 10, 0),
            .updated = col_int(res, i, 11, 0),
        };
        fn(&r, user_data);
    }
    PQclear(res);
    return n > 0 || id == 0 ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status pg_rollout_stages(struct store *base, int64_t id, store_rollout_stage_fn fn,
                                           void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, id);
    PGresult *res = run(s, PG_ROLLOUT_STAGES, &p, "rollout stages", &st);
    if (!res)
        return st;
    for (int i = 0; i < PQntuples(res); i++) {
        struct rollout_stage_count c = {
            .stage = (int)col_int(res, i, 0, 0),
            .devices = col_int(res, i, 1, 0),
            .pending = col_int(res, i, 2, 0),
            .in_progress = col_int(res, i, 3, 0),
            .installed = col_int(res, i, 4, 0),
            .failed = col_int(res, i, 5, 0),
        };
        fn(&c, user_data);
    }
    PQclear(res);
    return STORE_OK;
}

static enum store_status pg_rollout_state(struct store *base, int64_t id, const char *from, int stage,
                                          const char *to, const char *reason, int64_t now)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, id);
    param_text(&p, from);
    param_int(&p, stage);
    param_text(&p, to);
    param_text(&p, reason);
    param_int(&p, now);
    int64_t out[2] = {0, 0}; /* moved, exists */
    enum store_status st = read_ints(s, PG_ROLLOUT_STATE, &p, "rollout state", out, 2);
    if (st != STORE_OK)
        return st;
    return out[0] ? STORE_OK : out[1] ? STORE_STALE : STORE_NOT_FOUND;
}

static enum store_status pg_rollout_start(struct store *base, int64_t id, int stage, int64_t devices, int64_t now,
                                          int64_t *assigned)
{
    struct pg_store *s = pg_of(base);
    *assigned = 0;
    struct params p = {0};
    param_int(&p, id);
    param_int(&p, stage);
    param_int(&p, now);
    param_int(&p, devices);
    int64_t out[2] = {0, 0}; /* claimed, assigned */
    enum store_status st = read_ints(s, PG_ROLLOUT_START, &p, "start rollout stage", out, 2);
    *assigned = out[1];
    return st != STORE_OK ? st : out[0] ? STORE_OK : STORE_STALE;
}

static enum store_status pg_rollout_timeouts(struct store *base, int64_t id, int64_t now, int64_t *failed)
{
    struct pg_store *s = pg_of(base);
    *failed = 0;
    struct params p = {0};
    param_int(&p, id);
    param_int(&p, now);
    enum store_status st = exec_stmt(s, PG_ROLLOUT_DOWNLOADED, &p, "rollout downloads", NULL);
    return st == STORE_OK ? exec_stmt(s, PG_ROLLOUT_TIMEOUT, &p, "rollout timeouts", failed) : st;
}

static const struct store_ops pg_ops = {
    /* no group commit, no checkpoints; retention is a scheduled job (provctl prune) */
    .needs = STORE_NEEDS_FLUSHES,
    .free = pg_free,
    .flush = pg_flush,
    .backup = pg_no_copy,
    .restore = pg_no_copy,
    .ping = pg_ping,
    .sync_every_commit = pg_sync_every_commit,
    .prepare_all = pg_prepare_all,
    .read_begin = pg_read_begin,
    .read_end = pg_read_end,
    .device_register = pg_device_register,
    .device_heartbeat = pg_device_heartbeat,
    .heartbeat_seen = pg_heartbeat_seen,
    .device_poll = pg_device_poll,
    .device_get = pg_device_get,
    .device_update = pg_device_update,
    .device_delete = pg_device_delete,
    .device_set_key = pg_device_set_key,
    .device_keys_plain = pg_device_keys_plain,
    .device_key_replace = pg_device_key_replace,
    .device_list = pg_device_list,
    .device_count = pg_device_count,
    .device_bulk = pg_device_bulk,
    .reading_count = pg_reading_count,
    .fleet = pg_fleet,
    .device_trust = pg_device_trust,
    .device_signed = pg_device_signed,
    .reading_add = pg_reading_add,
    .reading_list = pg_reading_list,
    .reading_buckets = pg_reading_buckets,
    .reading_prune = pg_reading_prune,
    .device_expire_pending = pg_device_expire_pending,
    .firmware_add = pg_firmware_add,
    .firmware_get = pg_firmware_get,
    .firmware_list = pg_firmware_list,
    .firmware_running = pg_firmware_running,
    .firmware_delete = pg_firmware_delete,
    .firmware_image = pg_firmware_image,
    .device_firmware = pg_device_firmware,
    .device_by_mac = pg_device_by_mac,
    .rollout_add = pg_rollout_add,
    .rollout_list = pg_rollout_list,
    .rollout_stages = pg_rollout_stages,
    .rollout_state = pg_rollout_state,
    .rollout_start = pg_rollout_start,
    .rollout_timeouts = pg_rollout_timeouts,
    .token_add = pg_token_add,
    .token_check = pg_token_check,
    .token_used = pg_token_used,
    .alert_lead = pg_alert_lead,
    .alert_sweep = pg_alert_sweep,
    .alert_enqueue = pg_alert_enqueue,
    .alert_due = pg_alert_due,
    .alert_done = pg_alert_done,
    .alert_retry = pg_alert_retry,
    .alert_counts = pg_alert_counts,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .write_begin = pg_write_begin,
    .write_end = pg_write_end,
    .device_lock = pg_device_lock,
    .audit_add = pg_audit_add,
    .audit_list = pg_audit_list,
    .audit_prune = pg_audit_prune,
    .recently_offline = pg_recently_offline,
    .reading_last_id = pg_reading_last_id,
    .device_bulk_add = pg_device_bulk_add,
    .reading_bulk_add = pg_reading_bulk_add,
};
