/* The SQLite backend of store.h: schema migration at open, a table of prepared statements, the
 * operations, and the SQLite-only parts of store_sqlite.h. Only it and the SQL
 * functions of seen_blocks.c include sqlite3.h. */
#include "store_sqlite.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "migrations.h"
#include "seen_blocks.h"
#include "sqlite_backup.h"
#include "store_backend.h"
#include "validate.h"

/* Long enough that a burst of writers queues instead of failing: callers never see "busy".
 * A writer holds the lock for tens of microseconds, so the wait is in short steps (50 us more
 * each time, at most 1 ms): sqlite3_busy_timeout()'s 1, 2, 5 ... 100 ms sleeps made the tails. */
#define BUSY_TIMEOUT_MS  10000
#define BUSY_STEP_US     50
#define BUSY_MAX_STEP_US 1000

#define CACHE_KIB       "256" /* per connection: the B-tree tops of a million devices fit */
#define SMALL_CACHE_KIB "128" /* see store_use_small_cache() */

/* The WAL is copied into the database and started over once it holds this many pages (SQLite's
 * own default); one that grew larger (a bulk load) is cut back to WAL_LIMIT_BYTES then. A
 * checkpoint waits for older readers at most CHECKPOINT_WAIT_STEPS of busy_wait (about 5 ms);
 * one that could not finish is tried again CHECKPOINT_RETRY_PAGES later, waiting twice as long
 * each time up to CHECKPOINT_WAIT_STEPS_MAX (about 19 ms). */
#define CHECKPOINT_PAGES          1000
#define CHECKPOINT_WAIT_STEPS     14
#define CHECKPOINT_RETRY_PAGES    250
#define CHECKPOINT_WAIT_STEPS_MAX 28
#define WAL_LIMIT_BYTES           "16777216"
/* A connection that leaves its checkpoints to the writer (store_leave_checkpoints) runs one all
 * the same when the WAL reaches CHECKPOINT_FALLBACK_PAGES (the writer stopped or fell behind). */
#define CHECKPOINT_FALLBACK_PAGES (4 * CHECKPOINT_PAGES)

/* A device's lastseen, 0 for never: heartbeat times are kept apart, a row per device (migration 9). */
#define LASTSEEN_SQL "coalesce((SELECT at FROM heartbeat_times WHERE device = devices.id), 0)"

/* A device's tags as a JSON array, sorted (device_tags, migration 13). */
#define TAGS_SQL                                                                                             \
    "(SELECT json_group_array(tag) FROM (SELECT tag FROM device_tags WHERE device = devices.id ORDER BY tag))"

#define DEVICE_COLUMNS_WITH(lastseen, tags)                                                                  \
    "deviceid, name, state, " lastseen ", ssid, ipaddr, cfgsn, cfgsn_applied, flags, data, "                 \
    "poll_interval, datec, key IS NOT NULL, last_seqn, id, trust, location, " tags ", " DEVICE_FIRMWARE_COLUMNS
#define DEVICE_COLUMNS DEVICE_COLUMNS_WITH(LASTSEEN_SQL, TAGS_SQL)
/* A poll's (store_device_poll()): its time is the poll's, its tags no part of its answer. */
#define DEVICE_POLL_COLUMNS DEVICE_COLUMNS_WITH("0", "'[]'")
/* What a device call is checked against (read_trust()). */
#define TRUST_COLUMNS "state, coalesce(key, ''), trust, seqn_epoch"

/* Online: seen within 2 poll intervals + 10 s (?now, ?default interval as numbered below). */
#define ONLINE_SQL(now, def) LASTSEEN_SQL " >= " now " - (2 * coalesce(poll_interval, " def ") + 10)"

/* Readings of one device in a time range, in (received_at, id) order -- the time index holds
 * both -- from the reading whose id is the cursor ?4 (NULL: from the start; no reading of this
 * device: no rows, as on PostgreSQL). */
#define READING_LIST_SQL(cmp, order)                                                                         \
    "SELECT id, seqn, received_at, ts, data FROM telemetry "                                                 \
    "WHERE device = (SELECT id FROM devices WHERE deviceid = ?1) AND received_at BETWEEN ?2 AND ?3 "         \
    "AND (?4 IS NULL OR (received_at, id) " cmp " (SELECT received_at, id FROM telemetry WHERE id = ?4 "      \
    "AND device = (SELECT id FROM devices WHERE deviceid = ?1))) "                                           \
    "ORDER BY received_at " order ", id " order " LIMIT ?5"

/* The devices a struct device_filter matches (store_device_list(), store_device_bulk()): state ?2,
 * liveness ?3 (at ?4, default interval ?5), text ?6 in the id, name or location, tag ?8 (through
 * its index), ids ?9 (a JSON array). */
#define DEVICE_MATCH_SQL                                                                                     \
    "(?2 IS NULL OR state = ?2) AND (?3 IS NULL OR " ONLINE_SQL("?4", "?5") " = ?3) "                        \
    "AND (?6 IS NULL OR instr(lower(deviceid), lower(?6)) > 0 OR instr(lower(name), lower(?6)) > 0 "         \
    "OR instr(lower(location), lower(?6)) > 0) "                                                             \
    "AND (?8 IS NULL OR id IN (SELECT device FROM device_tags WHERE tag = ?8)) "                             \
    "AND (?9 IS NULL OR deviceid IN (SELECT value FROM json_each(?9)))"

/* The device list after the cursor ?1 (the last device of the previous page), the devices
 * DEVICE_MATCH_SQL matches, ?7 rows. */
#define DEVICE_LIST_SQL(cursor, order_by)                                                                    \
    "SELECT " DEVICE_COLUMNS " FROM devices WHERE " cursor " AND " DEVICE_MATCH_SQL " ORDER BY " order_by    \
    " LIMIT ?7"

/* The ids of up to ?7 devices, in id order, that DEVICE_MATCH_SQL matches and a bulk action would
 * change (cond). A bulk statement's ?1 is the action's text: the tag, the property, the state. */
#define BULK_TARGETS_SQL(cond)                                                                               \
    "(SELECT id FROM devices WHERE " DEVICE_MATCH_SQL " AND " cond " ORDER BY deviceid LIMIT ?7)"
/* A bulk SET's configuration (property ?1 = JSON ?10) and whether it changes the device's. */
#define BULK_SET_DATA "json_set(data, '$.\"' || ?1 || '\"', json(?10))"
#define BULK_SET_CHANGES                                                                                     \
    "json_type(data) = 'object' AND json_extract(data, '$.\"' || ?1 || '\"') IS NOT json_extract(?10, '$') " \
    "AND length(CAST(" BULK_SET_DATA " AS BLOB)) <= 8192"

/* The pair of statements of one sort: ascending at STMT_DEVICE_LIST + 2 * sort, descending next. */
#define DEVICE_LIST_STMTS(sort, asc, desc)                                                                   \
    [STMT_DEVICE_LIST + 2 * (sort)] = asc, [STMT_DEVICE_LIST + 2 * (sort) + 1] = desc

/* By the sort key, then the id. The cursor's place is its row's (key, id), so a cursor that
 * names no device matches nothing; with no cursor the place is a sentinel before every row (low:
 * '' for text keys, -1 for the non-negative integer ones) or after it (x'': a blob sorts after
 * any text or number). Row values make it one range of migration 4's (key, id) index, so a deep
 * page costs what the first does (keys the devices write have no index: see there). */
#define DEVICE_LIST_BY(sort, key, low)                                                                       \
    DEVICE_LIST_STMTS(                                                                                       \
        sort,                                                                                                \
        DEVICE_LIST_SQL("(" key ", deviceid) > (SELECT " key ", deviceid FROM devices WHERE deviceid = ?1 "  \
                        "UNION ALL SELECT " low ", '' WHERE ?1 IS NULL)",                                    \
                        key ", deviceid"),                                                                   \
        DEVICE_LIST_SQL("(" key ", deviceid) < (SELECT " key ", deviceid FROM devices WHERE deviceid = ?1 "  \
                        "UNION ALL SELECT x'', x'' WHERE ?1 IS NULL)",                                       \
                        key " DESC, deviceid DESC"))

/* The audit trail, newest first (store_audit_list()), with a filter before the cursor's. */
#define AUDIT_LIST_SQL(filter)                                                                               \
    "SELECT id, at, via, actor, action, target, before, after FROM audit WHERE " filter                      \
    "id < coalesce(?1, 9223372036854775807) AND at >= ?2 ORDER BY id DESC LIMIT ?3"

/* The devices an alert sweep judges (migration 0015; ?1 now, ?2 the default interval, ?3 at most
 * of each kind): those whose turn is due, and those not online seen since their last judgement,
 * each with its liveness then (old) and now (became: 0 online, 1 overdue, 2 offline, as the device
 * list's). Materialized: the statements after it change the rows it picked by. */
#define ALERT_JUDGED_SQL                                                                                     \
    "WITH cand AS MATERIALIZED (SELECT a.device, a.liveness AS old, d.deviceid, d.name, "                    \
    "coalesce((SELECT at FROM heartbeat_times WHERE device = a.device), 0) AS seen, "                        \
    "coalesce(d.poll_interval, ?2) AS every FROM alert_state a JOIN devices d ON d.id = a.device "           \
    "WHERE a.device IN (SELECT device FROM alert_state WHERE due <= ?1 ORDER BY due, device LIMIT ?3) "      \
    "OR a.device IN (SELECT s.device FROM alert_state s JOIN heartbeat_times h ON h.device = s.device "      \
    "WHERE s.liveness > 0 AND h.at > s.lastseen ORDER BY s.device LIMIT ?3)), "                              \
    "judged AS MATERIALIZED (SELECT *, CASE WHEN seen > 0 AND seen >= ?1 - (2 * every + 10) THEN 0 "         \
    "WHEN seen > 0 AND seen >= ?1 - 5 * every THEN 1 ELSE 2 END AS became FROM cand) "
/* A liveness's name (alert_kind_name()'s first three). */
#define LIVENESS_NAME_SQL(x) "CASE " x " WHEN 0 THEN 'online' WHEN 1 THEN 'overdue' ELSE 'offline' END"

enum stmt {
    STMT_BEGIN,
    STMT_BEGIN_READ,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_PING,
    STMT_DEVICE_TOUCH,
    STMT_DEVICE_REGISTER,
    STMT_REGISTRATION_COUNTS,
    STMT_DEVICE_EXPIRE_PENDING,
    STMT_DEVICE_POLL,
    STMT_DEVICE_SEEN,
    STMT_DEVICE_SEEN_SET,
    STMT_DEVICE_POLL_GET,
    STMT_DEVICE_POLL_CURRENT,
    STMT_DEVICE_TRUST_BY_ROW,
    STMT_DEVICE_ROW,
    STMT_DEVICE_GET,
    STMT_DEVICE_CURRENT,
    STMT_DEVICE_CREATE,
    STMT_DEVICE_UPDATE,
    STMT_DEVICE_DELETE,
    STMT_DEVICE_SET_KEY,
    STMT_DEVICE_KEYS_PLAIN,
    STMT_DEVICE_KEY_REPLACE,
    STMT_DEVICE_LIST, /* one per sort and direction: see DEVICE_LIST_STMTS */
    STMT_DEVICE_LIST_LAST = STMT_DEVICE_LIST + 2 * DEVICE_SORT__COUNT - 1,
    STMT_DEVICE_COUNT,
    STMT_DEVICE_BULK, /* one per enum device_bulk_action */
    STMT_DEVICE_BULK_LAST = STMT_DEVICE_BULK + DEVICE_BULK_SET,
    STMT_TAGS_KEEP,
    STMT_TAGS_ADD,
    STMT_TELEMETRY_COUNT,
    STMT_DEVICE_FLEET,
    STMT_DEVICE_TRUST,
    STMT_DEVICE_SIGNED,
    STMT_READING_SEQN_CHECK,
    STMT_READING_CLAIM,
    STMT_READING_INSERT,
    STMT_READING_MARK,
    STMT_READING_LIST_ASC,
    STMT_READING_LIST_DESC,
    STMT_READING_BUCKETS,
    STMT_READING_OLDEST,
    STMT_READING_PRUNE,
    STMT_FIRMWARE_GET,
    STMT_FIRMWARE_LIST,
    STMT_FIRMWARE_RUNNING,
    STMT_FIRMWARE_IMAGE_ADD,
    STMT_FIRMWARE_ADD,
    STMT_FIRMWARE_DELETE,
    STMT_FIRMWARE_IMAGE_DROP,
    STMT_FIRMWARE_IMAGE,
    STMT_DEVICE_FIRMWARE,
    STMT_DEVICE_BY_MAC,
    STMT_ROLLOUT_ADD,
    STMT_ROLLOUT_LIST,
    STMT_ROLLOUT_STAGES,
    STMT_ROLLOUT_STATE,
    STMT_ROLLOUT_UNASSIGN,
    STMT_ROLLOUT_CLAIM,
    STMT_ROLLOUT_MEMBERS,
    STMT_ROLLOUT_ASSIGN,
    STMT_ROLLOUT_DOWNLOADED,
    STMT_ROLLOUT_TIMEOUT,
    STMT_ROLLOUT_EXISTS,
    STMT_TOKEN_ADD,
    STMT_TOKEN_CHECK,
    STMT_TOKEN_USED,
    STMT_TOKEN_LIST,
    STMT_TOKEN_REVOKE,
    STMT_AUDIT_ADD,
    STMT_AUDIT_LIST,
    STMT_AUDIT_LIST_DEVICE,
    STMT_AUDIT_PRUNE,
    STMT_RECENTLY_OFFLINE,
    STMT_READING_LAST_ID,
    STMT_ALERT_WRITE,
    STMT_ALERT_JUDGE,
    STMT_ALERT_ENQUEUE,
    STMT_ALERT_DUE,
    STMT_ALERT_DELETE,
    STMT_ALERT_COUNT,
    STMT_ALERT_RETRY,
    STMT_ALERT_COUNTS,
    STMT__COUNT
};

static const char *const stmt_sql[STMT__COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_BEGIN_READ] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT operation",
    [STMT_RELEASE] = "RELEASE operation",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO operation",
    [STMT_PING] = "SELECT 1",
    [STMT_DEVICE_TOUCH] = "UPDATE devices SET ipaddr = coalesce(?2, ipaddr), ssid = coalesce(?3, ssid), "
                          "location = CASE WHEN location_pinned THEN location ELSE coalesce(?4, location) END "
                          "WHERE deviceid = ?1 RETURNING " DEVICE_COLUMNS,
    [STMT_DEVICE_REGISTER] =
        "INSERT INTO devices (deviceid, state, ipaddr, ssid, datec, registered_from, location) "
        "VALUES (?1, ?2, coalesce(?3, ''), coalesce(?4, ''), ?5, ?6, coalesce(?7, '')) RETURNING " DEVICE_COLUMNS,
    /* What the caps on new devices count: all devices, and those registered from ?1 since ?2. */
    [STMT_REGISTRATION_COUNTS] = "SELECT (SELECT count(*) FROM devices), "
                                 "(SELECT count(*) FROM devices WHERE registered_from = ?1 AND datec > ?2)",
    [STMT_DEVICE_EXPIRE_PENDING] =
        "DELETE FROM devices WHERE id IN (SELECT id FROM devices WHERE state = 'pending' "
        "AND last_seqn IS NULL AND datec < ?1 LIMIT ?2)",
    [STMT_DEVICE_POLL] =
        "UPDATE devices SET cfgsn_applied = ?2 WHERE deviceid = ?1 RETURNING " DEVICE_POLL_COLUMNS,
    /* The FK column is not written: no lookup of the device. A row that is gone changes nothing. */
    [STMT_DEVICE_SEEN] = "UPDATE heartbeat_times SET at = ?2 WHERE device = ?1 AND at < ?2",
    [STMT_DEVICE_SEEN_SET] = "INSERT INTO heartbeat_times (device, at) VALUES (?1, ?2) "
                             "ON CONFLICT (device) DO UPDATE SET at = excluded.at",
    /* A heartbeat moves lastseen without reading it (the batch writes only move it forward). */
    [STMT_DEVICE_POLL_GET] = "SELECT " DEVICE_POLL_COLUMNS " FROM devices WHERE deviceid = ?1",
    /* INDEXED BY: the planner would take the unique index on deviceid and read the row too. */
    [STMT_DEVICE_POLL_CURRENT] = "SELECT id, state, cfgsn, coalesce(cfgsn_applied, -1), fw_status, "
                                 "coalesce(fw_running, '') FROM devices INDEXED BY devices_poll WHERE deviceid = ?1",
    /* The rest of a heartbeat's check (but a proved caller's), by the row the index gave. */
    [STMT_DEVICE_TRUST_BY_ROW] = "SELECT " TRUST_COLUMNS " FROM devices WHERE id = ?1",
    [STMT_DEVICE_ROW] = "SELECT id FROM devices WHERE deviceid = ?1",
    [STMT_DEVICE_GET] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE deviceid = ?1",
    [STMT_DEVICE_CURRENT] = "SELECT cfgsn, data FROM devices WHERE deviceid = ?1",
    /* Never seen yet, whatever time a deleted device with the same id left behind. */
    [STMT_DEVICE_CREATE] =
        "INSERT INTO devices (deviceid, state, name, data, poll_interval, cfgsn, datec, location, location_pinned, "
        "fw_assigned, fw_status) "
        "VALUES (?1, coalesce(?4, 'accepted'), coalesce(?2, ''), coalesce(?3, '{}'), ?6, ?7, ?9, "
        "coalesce(?10, ''), ?10 IS NOT NULL, ?13, CASE WHEN ?13 IS NULL THEN 'none' ELSE 'pending' END) "
        "RETURNING " DEVICE_COLUMNS_WITH("0", TAGS_SQL),
    [STMT_DEVICE_UPDATE] =
        "UPDATE devices SET name = coalesce(?2, name), data = coalesce(?3, data), "
        "state = coalesce(?4, state), poll_interval = CASE WHEN ?5 THEN ?6 ELSE poll_interval END, "
        "cfgsn = ?7, last_seqn = CASE WHEN ?8 THEN NULL ELSE last_seqn END, "
        "seqn_epoch = seqn_epoch + (?8 != 0), "
        "location = CASE WHEN ?11 THEN coalesce(?10, '') ELSE location END, "
        "location_pinned = CASE WHEN ?11 THEN ?10 IS NOT NULL ELSE location_pinned END, "
        FIRMWARE_ASSIGN_SQL("?12", "?13")
        "WHERE deviceid = ?1 RETURNING " DEVICE_COLUMNS,
    [STMT_DEVICE_DELETE] = "DELETE FROM devices WHERE deviceid = ?1",
    [STMT_DEVICE_SET_KEY] = "UPDATE devices SET key = ?2 WHERE deviceid = ?1",
    /* Keys not yet sealed: without KEY_WRAP_PREFIX (key_wrap.h), compared byte for byte. */
    [STMT_DEVICE_KEYS_PLAIN] = "SELECT deviceid, key FROM devices "
                               "WHERE key IS NOT NULL AND substr(key, 1, 11) <> 'provd-key1:' LIMIT ?1",
    [STMT_DEVICE_KEY_REPLACE] = "UPDATE devices SET key = ?3 WHERE deviceid = ?1 AND key = ?2",
    /* By id any cursor text orders, a device or not: '' and x'' are before and after every id. */
    DEVICE_LIST_STMTS(DEVICE_SORT_ID, DEVICE_LIST_SQL("deviceid > coalesce(?1, '')", "deviceid"),
                      DEVICE_LIST_SQL("deviceid < coalesce(?1, x'')", "deviceid DESC")),
    DEVICE_LIST_BY(DEVICE_SORT_NAME, "name", "''"),
    DEVICE_LIST_BY(DEVICE_SORT_STATE, "state", "''"),
    DEVICE_LIST_BY(DEVICE_SORT_LASTSEEN, LASTSEEN_SQL, "-1"),
    DEVICE_LIST_BY(DEVICE_SORT_IPADDR, "ipaddr", "''"),
    DEVICE_LIST_BY(DEVICE_SORT_SSID, "ssid", "''"),
    DEVICE_LIST_BY(DEVICE_SORT_CFGSN, "cfgsn", "-1"),
    DEVICE_LIST_BY(DEVICE_SORT_DATEC, "datec", "-1"),
    /* Bulk actions (store_device_bulk()): tag or untag ?1, approve (?1 'accepted'), set property ?1
     * to ?10. A
     * device at DEVICE_TAGS_MAX tags gets no more. SQLite runs one writer at a time, so each
     * statement sees what the one before it left. */
    /* ?1 and ?7 (cursor, limit) are not used: NULL. */
    [STMT_DEVICE_COUNT] = "SELECT count(*) FROM devices WHERE " DEVICE_MATCH_SQL,
    [STMT_DEVICE_BULK + DEVICE_BULK_TAG] =
        "INSERT INTO device_tags (device, tag) SELECT id, ?1 FROM " BULK_TARGETS_SQL(
            "id NOT IN (SELECT device FROM device_tags WHERE tag = ?1) "
            "AND (SELECT count(*) FROM device_tags WHERE device = devices.id) < 16") " WHERE true",
    [STMT_DEVICE_BULK + DEVICE_BULK_UNTAG] =
        "DELETE FROM device_tags WHERE tag = ?1 AND device IN " BULK_TARGETS_SQL(
            "id IN (SELECT device FROM device_tags WHERE tag = ?1)"),
    [STMT_DEVICE_BULK + DEVICE_BULK_APPROVE] =
        "UPDATE devices SET state = ?1 WHERE id IN " BULK_TARGETS_SQL("state = 'pending'"),
    [STMT_DEVICE_BULK + DEVICE_BULK_SET] =
        "UPDATE devices SET data = " BULK_SET_DATA ", cfgsn = cfgsn + 1 WHERE id IN " BULK_TARGETS_SQL(
            BULK_SET_CHANGES),
    /* A device's tags become the JSON array ?2: the others go, the new ones come. */
    [STMT_TAGS_KEEP] = "DELETE FROM device_tags WHERE device = (SELECT id FROM devices WHERE deviceid = ?1) "
                       "AND tag NOT IN (SELECT value FROM json_each(?2))",
    [STMT_TAGS_ADD] = "INSERT OR IGNORE INTO device_tags (device, tag) "
                      "SELECT (SELECT id FROM devices WHERE deviceid = ?1), value FROM json_each(?2)",
    [STMT_TELEMETRY_COUNT] = "SELECT count(*) FROM telemetry",
    /* Devices by state, then online and overdue at ?1 (default interval ?2), then all of them:
     * enum fleet_count's columns up to FLEET_BYTES, the same statement as PostgreSQL's. */
    [STMT_DEVICE_FLEET] =
        "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'accepted'), 0), "
        "coalesce(sum(state = 'rejected'), 0), coalesce(sum(seen > 0 AND seen >= ?1 - (2 * every + 10)), 0), "
        "coalesce(sum(seen > 0 AND seen < ?1 - (2 * every + 10) AND seen >= ?1 - 5 * every), 0), count(*) "
        "FROM (SELECT state, " LASTSEEN_SQL " AS seen, coalesce(poll_interval, ?2) AS every FROM devices)",
    [STMT_DEVICE_TRUST] = "SELECT " TRUST_COLUMNS " FROM devices WHERE deviceid = ?1",
    [STMT_DEVICE_SIGNED] = "UPDATE devices SET trust = trust | 1, auth_time = CASE WHEN ?3 THEN ?2 ELSE auth_time END "
                           "WHERE deviceid = ?1 AND (NOT ?3 OR auth_time < ?2)",
    [STMT_READING_SEQN_CHECK] =
        "SELECT id, coalesce(last_seqn, -1), seqn_epoch FROM devices WHERE deviceid = ?1",
    [STMT_READING_INSERT] =
        "INSERT INTO telemetry (device, epoch, seqn, received_at, ts, data) VALUES (?1, ?6, ?2, ?3, ?4, ?5)",
    [STMT_READING_MARK] = "UPDATE devices SET last_seqn = ?2 WHERE id = ?1",
    /* The SEQN check and its move are one statement: a SEQN is taken once, by whoever moves
     * last_seqn past it (the same statement as on PostgreSQL, where writers are concurrent). */
    [STMT_READING_CLAIM] =
        "UPDATE devices SET last_seqn = ?2, trust = trust | ?4 WHERE deviceid = ?1 "
        "AND coalesce(last_seqn, -1) < ?2 AND seqn_epoch = ?3 AND (?4 = 2 OR trust & 2 = 0) RETURNING id",
    [STMT_READING_LIST_ASC] = READING_LIST_SQL(">", "ASC"),
    [STMT_READING_LIST_DESC] = READING_LIST_SQL("<", "DESC"),
    /* SQLite's JSON1 walks every reading: each numeric leaf, by its path ("list[0]" written
     * "list.0" as in the CSV export), into its time bucket. */
    [STMT_READING_BUCKETS] = "SELECT (t.received_at / ?4) * ?4 AS bucket, replace(replace(substr(j.fullkey, "
                             "3), '[', '.'), ']', ''), "
                             "min(j.value), avg(j.value), "
                             "max(j.value), count(*) FROM telemetry t, json_tree(t.data) j "
                             "WHERE t.device = (SELECT id FROM devices WHERE deviceid = ?1) "
                             "AND t.received_at BETWEEN ?2 AND ?3 AND j.type IN ('integer', 'real') "
                             "AND j.fullkey NOT IN ('$.SEQN', '$.ts') "
                             "GROUP BY bucket, j.fullkey ORDER BY bucket, j.fullkey",
    /* Readings leave in arrival (id) order: of the ?2 first, those received before ?1. Arrival
     * is time order unless the server's clock steps back; a reading received "earlier" then
     * waits for the ones before it. No index of all receive times: each reading would write it. */
    [STMT_READING_OLDEST] =
        "SELECT coalesce((SELECT received_at FROM telemetry ORDER BY id LIMIT 1) < ?1, 0)",
    [STMT_READING_PRUNE] = "DELETE FROM telemetry WHERE id IN "
                           "(SELECT id FROM telemetry ORDER BY id LIMIT ?2) "
                           "AND received_at < ?1",
    [STMT_FIRMWARE_GET] = "SELECT version, sha256, md5, size, created FROM firmware WHERE version = ?1",
    [STMT_FIRMWARE_LIST] = "SELECT version, sha256, md5, size, created FROM firmware ORDER BY version",
    [STMT_FIRMWARE_RUNNING] = FIRMWARE_RUNNING_SQL("?1"),
    [STMT_FIRMWARE_IMAGE_ADD] = "INSERT INTO firmware_images (sha256, data) VALUES (?1, ?2) "
                                "ON CONFLICT (sha256) DO NOTHING",
    [STMT_FIRMWARE_ADD] = "INSERT INTO firmware (version, sha256, size, md5, created) VALUES (?1, ?2, ?3, ?4, ?5) "
                          "ON CONFLICT (version) DO NOTHING",
    /* Never while a device has it assigned (and the foreign key says so too). */
    [STMT_FIRMWARE_DELETE] = "DELETE FROM firmware WHERE version = ?1 "
                             "AND NOT EXISTS (SELECT 1 FROM devices WHERE fw_assigned = ?1) " FIRMWARE_NOT_ROLLING_OUT("?1") " RETURNING sha256",
    [STMT_FIRMWARE_IMAGE_DROP] = "DELETE FROM firmware_images WHERE sha256 = ?1 "
                                 "AND NOT EXISTS (SELECT 1 FROM firmware WHERE sha256 = ?1)",
    [STMT_FIRMWARE_IMAGE] = "SELECT data FROM firmware_images WHERE sha256 = ?1",
    [STMT_DEVICE_FIRMWARE] = FIRMWARE_EVENT_SQL("?1", "?2", "?3"),
    [STMT_ROLLOUT_ADD] = ROLLOUT_ADD_SQL("?"),
    [STMT_ROLLOUT_LIST] = ROLLOUT_LIST_SQL("?"),
    [STMT_ROLLOUT_STAGES] = ROLLOUT_STAGES_SQL("?", "id"),
    [STMT_ROLLOUT_STATE] = ROLLOUT_STATE_SQL("?"),
    [STMT_ROLLOUT_UNASSIGN] = ROLLOUT_UNASSIGN_SQL("?", "id", ROLLOUT_OF("?", "firmware")),
    [STMT_ROLLOUT_CLAIM] = ROLLOUT_CLAIM_SQL("?"),
    /* The stage's devices (?2 the new stage): the first ?3 of the tag's accepted ones by id, but
     * those of earlier stages. */
    [STMT_ROLLOUT_MEMBERS] = "INSERT INTO rollout_devices (rollout, device, stage) SELECT ?1, m.id, ?2 "
                             "FROM (SELECT d.id FROM device_tags t JOIN devices d ON d.id = t.device "
                             "WHERE t.tag = " ROLLOUT_OF("?", "tag") " AND d.state = 'accepted' "
                             "ORDER BY d.deviceid LIMIT ?3) m WHERE NOT EXISTS (SELECT 1 FROM rollout_devices r "
                             "WHERE r.rollout = ?1 AND r.device = m.id)",
    [STMT_ROLLOUT_ASSIGN] = ROLLOUT_ASSIGN_SQL("id", ROLLOUT_OF("?", "firmware"),
                                               "SELECT device FROM rollout_devices WHERE rollout = ?1 AND stage = ?2"),
    [STMT_ROLLOUT_DOWNLOADED] = ROLLOUT_DOWNLOADED_SQL("?", "id"),
    [STMT_ROLLOUT_TIMEOUT] = ROLLOUT_TIMEOUT_SQL("?", "id"),
    [STMT_ROLLOUT_EXISTS] = "SELECT state FROM rollouts WHERE id = ?1",
    [STMT_DEVICE_BY_MAC] = "SELECT deviceid FROM devices WHERE upper(replace(deviceid, ':', '')) = ?1 "
                           "ORDER BY deviceid LIMIT 1",
    [STMT_TOKEN_ADD] =
        "INSERT INTO admin_tokens (name, hash, created, expires) VALUES (?1, ?2, ?3, nullif(?4, 0))",
    [STMT_TOKEN_CHECK] =
        "SELECT coalesce(expires, 0), coalesce(last_used, 0), name FROM admin_tokens WHERE hash = ?1",
    [STMT_TOKEN_USED] =
        "UPDATE admin_tokens SET last_used = ?2 WHERE hash = ?1 AND coalesce(last_used, 0) < ?2",
    [STMT_TOKEN_LIST] =
        "SELECT name, created, coalesce(expires, 0), coalesce(last_used, 0) FROM admin_tokens "
        "ORDER BY name",
    [STMT_TOKEN_REVOKE] = "DELETE FROM admin_tokens WHERE name = ?1",
    [STMT_AUDIT_ADD] = "INSERT INTO audit (at, via, actor, action, target, before, after) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* Newest first from before the cursor ?1 (NULL: the newest), made at ?2 or later, ?3 rows;
     * a device's (?4) from the index on (target, id). */
    [STMT_AUDIT_LIST] = AUDIT_LIST_SQL(""),
    [STMT_AUDIT_LIST_DEVICE] = AUDIT_LIST_SQL("target = ?4 AND substr(action, 1, 7) = 'device.' AND "),
    [STMT_AUDIT_PRUNE] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 LIMIT ?2)",
    /* Seen once, not within 5 intervals at ?1 (default interval ?2), by when they turned offline. */
    [STMT_RECENTLY_OFFLINE] =
        "SELECT " DEVICE_COLUMNS_WITH("h.at", TAGS_SQL) " FROM devices JOIN heartbeat_times h ON h.device = devices.id "
        "WHERE h.at > 0 AND h.at < ?1 - 5 * coalesce(poll_interval, ?2) "
        "ORDER BY h.at + 5 * coalesce(poll_interval, ?2) DESC LIMIT ?3",
    [STMT_READING_LAST_ID] = "SELECT coalesce(max(id), 0) FROM telemetry",
    /* An alert for each judged device whose liveness changed since a judgement (not its first). */
    [STMT_ALERT_WRITE] = ALERT_JUDGED_SQL
    "INSERT INTO alerts (subject, kind, at, name, liveness_from, liveness_to, lastseen) "
    "SELECT deviceid, " LIVENESS_NAME_SQL("became") ", ?1, name, " LIVENESS_NAME_SQL("old") ", "
    LIVENESS_NAME_SQL("became") ", seen FROM judged WHERE old IS NOT NULL AND became <> old ORDER BY device",
    /* The judgement recorded, and when it may turn next: online, the second after its window;
     * overdue, the second after 5 intervals; offline, only by being seen (NULL). */
    [STMT_ALERT_JUDGE] = ALERT_JUDGED_SQL
    "UPDATE alert_state SET liveness = j.became, lastseen = j.seen, "
    "due = CASE j.became WHEN 0 THEN j.seen + 2 * j.every + 11 WHEN 1 THEN j.seen + 5 * j.every + 1 END "
    "FROM judged j WHERE alert_state.device = j.device",
    [STMT_ALERT_ENQUEUE] = "INSERT INTO alerts (subject, kind, at, detail) VALUES (?1, ?2, ?3, ?4)",
    /* Of each subject its oldest alert (alerts_by_subject), if due, oldest first. */
    [STMT_ALERT_DUE] = "SELECT id, kind, subject, at, name, liveness_from, liveness_to, coalesce(lastseen, 0), "
                       "detail, attempts FROM alerts a WHERE next_at <= ?1 AND NOT EXISTS "
                       "(SELECT 1 FROM alerts b WHERE b.subject = a.subject AND b.id < a.id) ORDER BY id LIMIT ?2",
    [STMT_ALERT_DELETE] = "DELETE FROM alerts WHERE id = ?1",
    [STMT_ALERT_COUNT] = "UPDATE alert_counts SET sent = sent + ?1, failed = failed + ?2",
    [STMT_ALERT_RETRY] = "UPDATE alerts SET attempts = attempts + 1, next_at = ?2 WHERE id = ?1",
    [STMT_ALERT_COUNTS] = "SELECT (SELECT count(*) FROM alerts), sent, failed FROM alert_counts",
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT__COUNT];
    store_seen_fn seen_sink; /* NULL: heartbeats write lastseen themselves */
    void *seen_data;
    bool checkpoints_elsewhere; /* store_leave_checkpoints() */
    int checkpoint_at;          /* WAL pages after a commit that start a checkpoint */
    int checkpoint_steps;       /* busy_wait steps the next checkpoint may wait for readers */
    bool checkpointing;         /* busy_wait gives up after checkpoint_steps */
    const char *synchronous;    /* this connection's PRAGMA synchronous value */
    bool in_batch;              /* between store_batch_begin() and store_batch_commit() */
    int alert_lock;             /* <db>-alerts.lock, flock()ed: the stack's alert sweeper; -1: not */
};

static const struct store_ops sqlite_ops;

static struct sqlite_store *sqlite_of(struct store *base)
{
    return (struct sqlite_store *)base;
}

/* what may be a statement's SQL: its start names it well enough, and leaves room for the why. */
static enum store_status fail(struct sqlite_store *s, const char *what)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.100s: %s", what, sqlite3_errmsg(s->db));
    return STORE_ERROR;
}

/* A statement ready for binding: the previous use was reset and its bindings cleared. It is
 * prepared at its first use: a connection needs few of the statements (the writer's a dozen) and each
 * prepared one holds kilobytes. Should preparing fail (out of memory), NULL goes on: SQLite answers every
 * call on it with SQLITE_MISUSE, so the operation fails with the preparation's error still in
 * sqlite3_errmsg(). */
static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt id)
{
    if (!s->stmt[id])
        sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
    return s->stmt[id];
}

static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
static enum store_status exec_stmt(struct sqlite_store *s, enum stmt id)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, stmt_sql[id]);
}

/* An operation's transaction; inside a batch, a savepoint of the batch's transaction (none
 * once an error made SQLite roll the batch back: the rest of it fails, nothing commits alone). */
static enum store_status begin(struct sqlite_store *s)
{
    if (s->in_batch && sqlite3_get_autocommit(s->db)) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "the batch's transaction was rolled back");
        return STORE_ERROR;
    }
    return exec_stmt(s, s->in_batch ? STMT_SAVEPOINT : STMT_BEGIN);
}

static enum store_status commit(struct sqlite_store *s)
{
    return exec_stmt(s, s->in_batch ? STMT_RELEASE : STMT_COMMIT);
}

static void roll_back(struct sqlite_store *s)
{
    sqlite3_stmt *rb = stmt(s, s->in_batch ? STMT_ROLLBACK_TO : STMT_ROLLBACK);
    sqlite3_step(rb);
    stmt_done(rb);
    if (s->in_batch)
        commit(s); /* ROLLBACK TO leaves the savepoint open */
}

/* Ends an operation: commits on success, rolls back otherwise, and passes the status on. An
 * operation refused inside a batch undoes itself alone. */
static enum store_status finish(struct sqlite_store *s, enum store_status st)
{
    if (st == STORE_OK || st == STORE_CREATED)
        return commit(s) == STORE_OK ? st : STORE_ERROR;
    roll_back(s);
    return st;
}

static enum store_status sqlite_read_begin(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    return exec_stmt(s, STMT_BEGIN_READ);
}

static void sqlite_read_end(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (exec_stmt(s, STMT_COMMIT) != STORE_OK)
        roll_back(s);
}

enum store_status store_batch_begin(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = exec_stmt(s, STMT_BEGIN);
    s->in_batch = st == STORE_OK;
    return st;
}

/* An admin's change is a batch of its own: its operations in savepoints of one transaction. */
static enum store_status sqlite_write_begin(struct store *base)
{
    return store_batch_begin(base);
}

static enum store_status sqlite_write_end(struct store *base, bool commit)
{
    struct sqlite_store *s = sqlite_of(base);
    if (commit)
        return store_batch_commit(base);
    s->in_batch = false;
    roll_back(s);
    return STORE_OK;
}

enum store_status store_batch_commit(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    s->in_batch = false;
    enum store_status st = exec_stmt(s, STMT_COMMIT);
    if (st != STORE_OK)
        roll_back(s);
    return st;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static int64_t column_int_or(sqlite3_stmt *st, int i, int64_t if_null)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? if_null : sqlite3_column_int64(st, i);
}

/* A device row; *row gets its key (heartbeat times name devices by it). */
static void read_device(sqlite3_stmt *st, struct device *d, int64_t *row)
{
    d->deviceid = column_text(st, 0);
    d->name = column_text(st, 1);
    d->state = column_text(st, 2);
    d->lastseen = column_int_or(st, 3, 0);
    d->ssid = column_text(st, 4);
    d->ipaddr = column_text(st, 5);
    d->cfgsn = sqlite3_column_int64(st, 6);
    d->cfgsn_applied = column_int_or(st, 7, -1);
    d->flags = sqlite3_column_int64(st, 8);
    d->data = column_text(st, 9);
    d->poll_interval = column_int_or(st, 10, 0);
    d->datec = sqlite3_column_int64(st, 11);
    d->has_key = sqlite3_column_int(st, 12) != 0;
    d->last_seqn = column_int_or(st, 13, -1);
    *row = sqlite3_column_int64(st, 14);
    d->trust = sqlite3_column_int64(st, 15);
    d->location = column_text(st, 16);
    d->tags = column_text(st, 17);
    d->firmware = (const char *)sqlite3_column_text(st, 18);
    d->firmware_running = (const char *)sqlite3_column_text(st, 19);
    d->firmware_status = column_text(st, 20);
    d->firmware_size = column_int_or(st, 21, 0);
    d->firmware_sha256 = (const char *)sqlite3_column_text(st, 22);
    d->firmware_md5 = (const char *)sqlite3_column_text(st, 23);
}

/* Steps a statement returning device rows, handing each to fn; resets it. *row (when not NULL)
 * gets the last one's key. */
static enum store_status device_rows(struct sqlite_store *s, enum stmt id, store_device_fn fn,
                                     void *user_data, int *count, int64_t *row)
{
    sqlite3_stmt *st = stmt(s, id);
    int n = 0, rc;
    int64_t key = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct device d;
        read_device(st, &d, &key);
        if (row)
            *row = key;
        if (fn)
            fn(&d, user_data);
        n++;
    }
    enum store_status result = STORE_OK;
    if (rc != SQLITE_DONE)
        result = fail(s, stmt_sql[id]);
    else if (n == 0)
        result = STORE_NOT_FOUND;
    stmt_done(st);
    if (count)
        *count = n;
    return result;
}

/* The migrations applied; -1 when it cannot be read. */
static int schema_version(struct sqlite_store *s)
{
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return version;
}

/* A database already migrated is only read: opening a connection then never waits for a
 * writer (the writer's connection is opened while another program may hold the write lock). */
static enum store_status migrate(struct sqlite_store *s)
{
    if (schema_version(s) == provd_migration_count)
        return STORE_OK;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "begin migration");
    int version = schema_version(s);
    enum store_status result = STORE_OK;
    if (version < 0) {
        result = fail(s, "read schema version");
    } else if (version > provd_migration_count) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "the database has schema version %d; this provd knows %d: upgrade provd", version,
                 provd_migration_count);
        result = STORE_ERROR;
    }
    /* Only the migrations that read or write heartbeat-time blocks call their functions. */
    if (result == STORE_OK && version < SEEN_BLOCKS_LAST_MIGRATION &&
        seen_blocks_register(s->db) != SQLITE_OK)
        result = fail(s, "register the heartbeat-time block functions");
    for (int i = version; result == STORE_OK && i < provd_migration_count; i++) {
        if (sqlite3_exec(s->db, provd_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK)
            result = fail(s, provd_migrations[i].name);
    }
    if (result == STORE_OK && version < provd_migration_count) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", provd_migration_count);
        if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
            result = fail(s, "set schema version");
    }
    sqlite3_exec(s->db, result == STORE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    if (version < SEEN_BLOCKS_LAST_MIGRATION)
        seen_blocks_unregister(s->db);
    return result;
}

/* After each commit. SQLite's own auto-checkpoint is PASSIVE: it copies only what no reader
 * still needs, so under steady load, with readers always overlapping, it never finishes and the
 * WAL grows without bound (hundreds of MB a minute of ingest). RESTART waits for the readers of
 * older snapshots (they take microseconds), so the WAL is copied in full and the next writer
 * starts it over. Writers wait meanwhile, so the wait is short: a reader that holds its
 * snapshot longer (a big CSV export) wins. So does, on a busy machine, a reader descheduled in
 * the middle of its read; hence the sooner, longer retries: with 1000 pages and 5 ms each time,
 * the WAL grew to 24-58 MB in test_store's bound test with the cores busy, with them 6-8 MB.
 * A PASSIVE pass goes first: it copies and syncs nearly everything while other writers go on,
 * so RESTART, which holds them off, has little left (at 1M devices, registrations' p99 32-49 ms
 * instead of 49-70: they no longer wait out a whole checkpoint). Under a writer, its connection
 * does both, between its batches (cgi-bin/sqlite_writer.h). */
static void checkpoint_schedule_first(struct sqlite_store *s)
{
    s->checkpoint_at = CHECKPOINT_PAGES;
    s->checkpoint_steps = CHECKPOINT_WAIT_STEPS;
}

/* The RESTART part, once the WAL holds pages, its PASSIVE pass done. */
static void restart_when_full(struct sqlite_store *s, const char *schema, int pages)
{
    if (pages < CHECKPOINT_PAGES)
        checkpoint_schedule_first(s); /* someone started the WAL over */
    if (pages < s->checkpoint_at)
        return;
    s->checkpointing = true;
    int rc = sqlite3_wal_checkpoint_v2(s->db, schema, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    s->checkpointing = false;
    if (rc == SQLITE_OK) {
        checkpoint_schedule_first(s);
    } else {
        s->checkpoint_at = pages + CHECKPOINT_RETRY_PAGES;
        s->checkpoint_steps *= 2;
        if (s->checkpoint_steps > CHECKPOINT_WAIT_STEPS_MAX)
            s->checkpoint_steps = CHECKPOINT_WAIT_STEPS_MAX;
    }
}

static int checkpoint_when_full(void *data, sqlite3 *db, const char *schema, int pages)
{
    struct sqlite_store *s = data;
    if (s->checkpoints_elsewhere && pages < CHECKPOINT_FALLBACK_PAGES) {
        if (pages < CHECKPOINT_PAGES)
            checkpoint_schedule_first(s); /* started over: a fallback's retries start afresh */
        return SQLITE_OK;
    }
    if (pages >= s->checkpoint_at)
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    restart_when_full(s, schema, pages);
    return SQLITE_OK;
}

void store_leave_checkpoints(struct store *base)
{
    sqlite_of(base)->checkpoints_elsewhere = true;
}

void store_checkpoint(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    int pages = -1;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &pages, NULL) == SQLITE_OK)
        restart_when_full(s, NULL, pages);
}

/* Waits count steps in all; each is at most 1 ms, so the whole wait stays under BUSY_TIMEOUT_MS. */
static int busy_wait(void *data, int count)
{
    const struct sqlite_store *s = data;
    if (count >= (s->checkpointing ? s->checkpoint_steps : BUSY_TIMEOUT_MS))
        return 0;
    long us = BUSY_STEP_US * (long)(count + 1);
    struct timespec pause = {0, (us < BUSY_MAX_STEP_US ? us : BUSY_MAX_STEP_US) * 1000};
    nanosleep(&pause, NULL);
    return 1;
}

/* SQLite sets 20 pages (~90 KB) aside for each connection's cache at its first read. A
 * connection that reads little would keep them for nothing, and the others
 * fill their cache page by page all the same. Process-wide: once, before the first connection. */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

static enum store_status sqlite_backup(struct store *base, const char *path, store_progress_fn fn,
                                      void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    if (sqlite_backup_to(s->db, path, fn, user_data, s->base.errmsg, sizeof s->base.errmsg))
        return STORE_OK;
    return STORE_ERROR;
}

static enum store_status sqlite_restore(struct store *base, const char *path, store_progress_fn fn,
                                       void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    if (!sqlite_backup_restore(s->db, path, provd_migration_count, fn, user_data, s->base.errmsg,
                               sizeof s->base.errmsg))
        return STORE_ERROR;
    return migrate(s);
}

static void sqlite_free(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (!s)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    if (s->alert_lock >= 0)
        close(s->alert_lock);
    free(s);
}

struct store *store_sqlite_open(const char *path, char *err, size_t err_len)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->alert_lock = -1;
    pthread_once(&sqlite_configured, configure_sqlite);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_handler(s->db, busy_wait, s);
    /* WAL: readers never block the writer. synchronous=NORMAL: a commit is in the WAL (the OS's
     * page cache) before the answer, so it survives the death of any process; only a power cut
     * can lose the last commits before a checkpoint. The page cache is small (CACHE_KIB): any
     * other worker's commit empties it, so a bigger one only adds to the worker's memory.
     * secure_delete: what is deleted (a key replaced, a device, old readings) is overwritten with
     * zeros, not left in free pages for whoever copies the file. */
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                     "PRAGMA secure_delete = ON; "
                     "PRAGMA cache_size = -" CACHE_KIB "; PRAGMA journal_size_limit = " WAL_LIMIT_BYTES ";",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    s->synchronous = "NORMAL";
    checkpoint_schedule_first(s);
    sqlite3_wal_hook(s->db, checkpoint_when_full, s);
    if (migrate(s) != STORE_OK) {
        snprintf(err, err_len, "%s: %s", path, s->base.errmsg);
        goto fail;
    }
    return &s->base;
fail:
    sqlite_free(&s->base);
    return NULL;
}

static enum store_status sqlite_prepare_all(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    for (int i = 0; i < STMT__COUNT; i++) {
        if (!stmt(s, i)) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "prepare %s: %s", stmt_sql[i],
                     sqlite3_errmsg(s->db));
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

static enum store_status sqlite_sync_every_commit(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "PRAGMA synchronous");
    s->synchronous = "FULL";
    return STORE_OK;
}

enum store_status store_use_small_cache(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (sqlite3_exec(s->db, "PRAGMA cache_size = -" SMALL_CACHE_KIB, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "PRAGMA cache_size");
    return STORE_OK;
}

static enum store_status sqlite_ping(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_PING);
    int rc = sqlite3_step(st);
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : fail(s, "ping");
}

void store_set_seen_sink(struct store *base, store_seen_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    s->seen_sink = fn;
    s->seen_data = user_data;
}

static enum store_status write_seen(struct sqlite_store *s, int64_t row, int64_t at)
{
    sqlite3_stmt *up = stmt(s, STMT_DEVICE_SEEN);
    sqlite3_bind_int64(up, 1, row);
    sqlite3_bind_int64(up, 2, at);
    return exec_stmt(s, STMT_DEVICE_SEEN);
}

enum store_status store_device_seen(struct store *base, const struct store_seen *seen, size_t n)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    for (size_t i = 0; i < n && st == STORE_OK; i++)
        st = write_seen(s, seen[i].row, seen[i].at);
    return finish(s, st);
}

/* lastseen moves: to the sink when there is one and it takes it, else written now. */
static enum store_status device_seen(struct sqlite_store *s, int64_t row, int64_t now)
{
    if (s->seen_sink && s->seen_sink(row, now, s->seen_data))
        return STORE_OK;
    return write_seen(s, row, now);
}

/* Gives a written device to the caller as seen at now (its lastseen is written apart); row gets
 * its key from device_rows(). */
struct seen_now {
    store_device_fn fn;
    void *user_data;
    int64_t now, row;
};

static void hand_as_seen_now(const struct device *d, void *data)
{
    struct seen_now *seen = data;
    struct device copy = *d;
    copy.lastseen = seen->now;
    if (seen->fn)
        seen->fn(&copy, seen->user_data);
}

/* The heartbeat time of the device just added (0: never seen), in the transaction adding it, so
 * that every device has its row and a heartbeat only ever updates one. */
static enum store_status set_new_device_seen(struct sqlite_store *s, int64_t at)
{
    sqlite3_stmt *set = stmt(s, STMT_DEVICE_SEEN_SET);
    sqlite3_bind_int64(set, 1, sqlite3_last_insert_rowid(s->db));
    sqlite3_bind_int64(set, 2, at);
    return exec_stmt(s, STMT_DEVICE_SEEN_SET);
}

/* Runs a statement returning one row of integers into out[0..n). */
static enum store_status read_counts(struct sqlite_store *s, enum stmt id, int64_t *out, int n)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        for (int i = 0; i < n; i++)
            out[i] = sqlite3_column_int64(st, i);
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : fail(s, stmt_sql[id]);
}

/* Whether reg's caps let one more device in (in the registration's write transaction, which
 * SQLite serializes with every other). */
static enum store_status registration_room(struct sqlite_store *s, const struct registration *reg,
                                           int64_t now)
{
    sqlite3_stmt *st = stmt(s, STMT_REGISTRATION_COUNTS);
    bind_text(st, 1, reg->from);
    sqlite3_bind_int64(st, 2, now - REGISTRATION_WINDOW_S);
    int64_t counts[2];
    enum store_status result = read_counts(s, STMT_REGISTRATION_COUNTS, counts, 2);
    return result == STORE_OK ? store_registration_room(reg, counts[0], counts[1]) : result;
}

static enum store_status sqlite_device_register(struct store *base, const char *deviceid, const char *ipaddr,
                                                const char *ssid, const char *location,
                                                const struct registration *reg, int64_t now,
                                                store_device_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    struct seen_now seen = {fn, user_data, now, 0};
    sqlite3_stmt *touch = stmt(s, STMT_DEVICE_TOUCH);
    bind_text(touch, 1, deviceid);
    bind_text(touch, 2, ipaddr);
    bind_text(touch, 3, ssid);
    bind_text(touch, 4, location);
    st = device_rows(s, STMT_DEVICE_TOUCH, hand_as_seen_now, &seen, NULL, &seen.row);
    if (st == STORE_OK) {
        st = device_seen(s, seen.row, now);
    } else if (st == STORE_NOT_FOUND && reg->policy == REGISTRATION_CLOSED) {
        st = STORE_REFUSED;
    } else if (st == STORE_NOT_FOUND && (st = registration_room(s, reg, now)) == STORE_OK) {
        sqlite3_stmt *ins = stmt(s, STMT_DEVICE_REGISTER);
        bind_text(ins, 1, deviceid);
        bind_text(ins, 2, reg->policy == REGISTRATION_OPEN ? "accepted" : "pending");
        bind_text(ins, 3, ipaddr);
        bind_text(ins, 4, ssid);
        sqlite3_bind_int64(ins, 5, now);
        bind_text(ins, 6, reg->from);
        bind_text(ins, 7, location);
        st = device_rows(s, STMT_DEVICE_REGISTER, hand_as_seen_now, &seen, NULL, &seen.row);
        if (st == STORE_OK)
            st = set_new_device_seen(s, now) == STORE_OK ? STORE_CREATED : STORE_ERROR;
    }
    return finish(s, st);
}

/* Steps st, a bound TRUST_COLUMNS statement: the trust into *out, the key as stored into stored. */
static enum store_status read_trust(struct sqlite_store *s, sqlite3_stmt *st, struct device_trust *out,
                                    char *stored, size_t stored_len)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out->state, sizeof out->state, "%s", column_text(st, 0));
        snprintf(stored, stored_len, "%s", column_text(st, 1));
        out->trust = sqlite3_column_int64(st, 2);
        out->epoch = sqlite3_column_int64(st, 3);
    }
    stmt_done(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device trust");
}

/* A heartbeat's caller and the device at row (enum store_caller): STORE_UNPROVED for an unsigned
 * one the device must not answer; for one to prove, the device's trust into *t and its key as
 * stored into stored. */
static enum store_status check_caller(struct sqlite_store *s, enum store_caller caller, int64_t row,
                                      struct device_trust *t, char *stored, size_t stored_len)
{
    if (caller == STORE_CALLER_PROVED)
        return STORE_OK;
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_TRUST_BY_ROW);
    sqlite3_bind_int64(st, 1, row);
    enum store_status result = read_trust(s, st, t, stored, stored_len);
    if (result == STORE_OK && caller == STORE_CALLER_UNSIGNED && device_must_sign(stored[0], t->trust))
        result = STORE_UNPROVED;
    return result;
}

static enum store_status sqlite_device_heartbeat(struct store *base, const char *deviceid,
                                                 enum store_caller caller, int64_t now,
                                                 struct poll_facts *facts, char *stored, size_t stored_len)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *get = stmt(s, STMT_DEVICE_POLL_CURRENT);
    bind_text(get, 1, deviceid);
    int rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) {
        stmt_done(get);
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    }
    int64_t row = sqlite3_column_int64(get, 0);
    facts->rejected = strcmp(column_text(get, 1), "rejected") == 0;
    facts->cfgsn = sqlite3_column_int64(get, 2);
    facts->cfgsn_applied = sqlite3_column_int64(get, 3);
    snprintf(facts->firmware_status, sizeof facts->firmware_status, "%s", column_text(get, 4));
    snprintf(facts->firmware_running, sizeof facts->firmware_running, "%s", column_text(get, 5));
    stmt_done(get);
    enum store_status st = check_caller(s, caller, row, &facts->trust, stored, stored_len);
    return st == STORE_OK && caller != STORE_CALLER_TO_PROVE ? device_seen(s, row, now) : st;
}

static enum store_status sqlite_heartbeat_seen(struct store *base, const char *deviceid, int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_ROW);
    bind_text(st, 1, deviceid);
    int rc = sqlite3_step(st);
    int64_t row = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    stmt_done(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    return device_seen(s, row, now);
}

/* Most heartbeats change lastseen alone: the device is read (not its heartbeat time), and
 * lastseen moved apart. A new cfgsn_applied is written at once, with lastseen. */
static enum store_status sqlite_device_poll(struct store *base, const char *deviceid,
                                            enum store_caller caller, int64_t applied, int64_t now,
                                            store_device_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    struct seen_now seen = {fn, user_data, now, 0};
    sqlite3_stmt *get = stmt(s, STMT_DEVICE_POLL_GET);
    bind_text(get, 1, deviceid);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        struct device d;
        int64_t row;
        read_device(get, &d, &row);
        if (caller != STORE_CALLER_PROVED && device_must_sign(d.has_key, d.trust)) {
            stmt_done(get);
            return STORE_UNPROVED;
        }
        if (applied < 0 || applied == d.cfgsn_applied) {
            hand_as_seen_now(&d, &seen);
            stmt_done(get);
            return device_seen(s, row, now);
        }
    }
    stmt_done(get);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *up = stmt(s, STMT_DEVICE_POLL);
    bind_text(up, 1, deviceid);
    sqlite3_bind_int64(up, 2, applied);
    st = device_rows(s, STMT_DEVICE_POLL, hand_as_seen_now, &seen, NULL, &seen.row);
    return finish(s, st == STORE_OK ? write_seen(s, seen.row, now) : st);
}

static enum store_status sqlite_device_get(struct store *base, const char *deviceid, store_device_fn fn,
                                           void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_DEVICE_GET), 1, deviceid);
    return device_rows(s, STMT_DEVICE_GET, fn, user_data, NULL, NULL);
}

/* Reads the cfgsn and data a device has now, inside the caller's transaction. */
static enum store_status device_current(struct sqlite_store *s, const char *deviceid, int64_t *cfgsn,
                                        char **data)
{
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_CURRENT);
    bind_text(st, 1, deviceid);
    int rc = sqlite3_step(st);
    enum store_status result = STORE_OK;
    if (rc == SQLITE_ROW) {
        *cfgsn = sqlite3_column_int64(st, 0);
        *data = strdup(column_text(st, 1));
        if (!*data)
            result = STORE_ERROR;
    } else {
        result = rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    }
    stmt_done(st);
    return result;
}

/* The cfgsn after an update: one more when the data changes; an explicit higher one wins. */
static int64_t next_cfgsn(int64_t current, const char *old_data, const struct device_update *u)
{
    int64_t next = current;
    if (u->data && strcmp(u->data, old_data) != 0)
        next = current + 1;
    return u->cfgsn > next ? u->cfgsn : next;
}

static void bind_update(sqlite3_stmt *st, const char *deviceid, const struct device_update *u)
{
    bind_text(st, 1, deviceid);
    bind_text(st, 2, u->name);
    bind_text(st, 3, u->data);
    bind_text(st, 4, u->state);
    sqlite3_bind_int(st, 5, u->set_poll_interval);
    if (u->set_poll_interval && u->poll_interval > 0)
        sqlite3_bind_int64(st, 6, u->poll_interval);
    sqlite3_bind_int(st, 8, u->seqn_reset);
    if (u->set_location)
        bind_text(st, 10, u->location);
    sqlite3_bind_int(st, 11, u->set_location);
    sqlite3_bind_int(st, 12, u->set_firmware);
    bind_text(st, 13, u->set_firmware ? u->firmware : NULL);
}

/* The device's tags become the JSON array tags, in the caller's transaction. */
static enum store_status set_tags(struct sqlite_store *s, const char *deviceid, const char *tags)
{
    enum stmt ids[] = {STMT_TAGS_KEEP, STMT_TAGS_ADD};
    enum store_status st = STORE_OK;
    for (size_t i = 0; st == STORE_OK && i < sizeof ids / sizeof ids[0]; i++) {
        sqlite3_stmt *q = stmt(s, ids[i]);
        bind_text(q, 1, deviceid);
        bind_text(q, 2, tags);
        st = exec_stmt(s, ids[i]);
    }
    return st;
}

static enum store_status sqlite_device_update(struct store *base, const char *deviceid,
                                              const struct device_update *update, int64_t now,
                                              store_device_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    int64_t cfgsn = 0;
    char *old_data = NULL;
    /* New tags are written after the row: the device is handed over once they are. */
    store_device_fn row_fn = update->tags ? NULL : fn;
    st = device_current(s, deviceid, &cfgsn, &old_data);
    if (st == STORE_NOT_FOUND && update->if_match != IF_MATCH_NONE) {
        st = STORE_STALE;
    } else if (st == STORE_NOT_FOUND) {
        sqlite3_stmt *ins = stmt(s, STMT_DEVICE_CREATE);
        bind_update(ins, deviceid, update);
        sqlite3_bind_int64(ins, 7, update->cfgsn > 0 ? update->cfgsn : 0);
        sqlite3_bind_int64(ins, 9, now);
        st = device_rows(s, STMT_DEVICE_CREATE, row_fn, user_data, NULL, NULL);
        if (st == STORE_OK)
            st = set_new_device_seen(s, 0) == STORE_OK ? STORE_CREATED : STORE_ERROR;
    } else if (st == STORE_OK && update->if_match >= 0 && update->if_match != cfgsn) {
        st = STORE_STALE;
    } else if (st == STORE_OK) {
        sqlite3_stmt *up = stmt(s, STMT_DEVICE_UPDATE);
        bind_update(up, deviceid, update);
        sqlite3_bind_int64(up, 7, next_cfgsn(cfgsn, old_data, update));
        st = device_rows(s, STMT_DEVICE_UPDATE, row_fn, user_data, NULL, NULL);
    }
    free(old_data);
    if ((st == STORE_OK || st == STORE_CREATED) && update->tags) {
        enum store_status written = set_tags(s, deviceid, update->tags);
        if (written == STORE_OK)
            written = sqlite_device_get(base, deviceid, fn, user_data);
        if (written != STORE_OK)
            st = written;
    }
    return finish(s, st);
}

/* Runs a write of at most one row; STORE_NOT_FOUND when no row changed. */
static enum store_status write_one_row(struct sqlite_store *s, enum stmt id)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return fail(s, stmt_sql[id]);
    return sqlite3_changes(s->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status sqlite_device_delete(struct store *base, const char *deviceid)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_DEVICE_DELETE), 1, deviceid);
    return write_one_row(s, STMT_DEVICE_DELETE);
}

static enum store_status sqlite_device_keys_plain(struct store *base, int max, store_key_fn fn,
                                                  void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_KEYS_PLAIN);
    sqlite3_bind_int(st, 1, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(column_text(st, 0), column_text(st, 1), user_data);
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "read plain keys");
}

static enum store_status sqlite_device_key_replace(struct store *base, const char *deviceid, const char *old,
                                                   const char *key)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_KEY_REPLACE);
    bind_text(st, 1, deviceid);
    bind_text(st, 2, old);
    bind_text(st, 3, key);
    return write_one_row(s, STMT_DEVICE_KEY_REPLACE);
}

static enum store_status sqlite_device_set_key(struct store *base, const char *deviceid, const char *key)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_SET_KEY);
    bind_text(st, 1, deviceid);
    bind_text(st, 2, key);
    return write_one_row(s, STMT_DEVICE_SET_KEY);
}

/* DEVICE_MATCH_SQL's parameters and the limit, ?7. */
static void bind_filter(sqlite3_stmt *st, const struct device_filter *f)
{
    bind_text(st, 2, f->state);
    if (f->online >= 0)
        sqlite3_bind_int(st, 3, f->online);
    sqlite3_bind_int64(st, 4, f->now);
    sqlite3_bind_int64(st, 5, f->default_interval);
    bind_text(st, 6, f->q);
    sqlite3_bind_int(st, 7, f->limit);
    bind_text(st, 8, f->tag);
    bind_text(st, 9, f->ids);
}

_Static_assert(DEVICE_TAGS_MAX == 16, "STMT_DEVICE_BULK's tag cap");
_Static_assert(DATA_MAX == 8192, "BULK_SET_CHANGES's size cap");

static enum store_status sqlite_device_count(struct store *base, const struct device_filter *f, int64_t *count)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_filter(stmt(s, STMT_DEVICE_COUNT), f);
    return read_counts(s, STMT_DEVICE_COUNT, count, 1);
}

static enum store_status sqlite_device_bulk(struct store *base, const struct device_filter *f,
                                            const struct device_bulk *b, int64_t *affected)
{
    struct sqlite_store *s = sqlite_of(base);
    if ((unsigned)b->action > DEVICE_BULK_SET) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk: no action %d", (int)b->action);
        return STORE_ERROR;
    }
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    enum stmt id = STMT_DEVICE_BULK + b->action;
    sqlite3_stmt *q = stmt(s, id);
    bind_filter(q, f);
    bind_text(q, 1, bulk_text(b));
    bind_text(q, 10, b->value);
    st = exec_stmt(s, id);
    *affected = st == STORE_OK ? sqlite3_changes64(s->db) : 0;
    return finish(s, st);
}

static enum store_status sqlite_device_list(struct store *base, const struct device_filter *f,
                                            store_device_fn fn, void *user_data, int *count)
{
    struct sqlite_store *s = sqlite_of(base);
    if ((unsigned)f->sort >= DEVICE_SORT__COUNT) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "list devices: no sort %d", (int)f->sort);
        return STORE_ERROR;
    }
    enum stmt id = STMT_DEVICE_LIST + 2 * f->sort + f->descending;
    sqlite3_stmt *st = stmt(s, id);
    bind_text(st, 1, f->after);
    bind_filter(st, f);
    enum store_status result = device_rows(s, id, fn, user_data, count, NULL);
    if (result != STORE_NOT_FOUND)
        return result;
    /* An empty page: the end, or (sorted by a column) a cursor that names no device. */
    if (f->after && f->sort != DEVICE_SORT_ID)
        return sqlite_device_get(base, f->after, NULL, NULL);
    return STORE_OK;
}

/* A count of devices by liveness at ?1 (default interval ?2) into out[0..n). */
static enum store_status count_devices(struct sqlite_store *s, enum stmt id, int64_t now, int64_t default_interval,
                                       int64_t *out, int n)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    return read_counts(s, id, out, n);
}

static enum store_status sqlite_reading_count(struct store *base, int64_t *count)
{
    return read_counts(sqlite_of(base), STMT_TELEMETRY_COUNT, count, 1);
}

/* The bytes of a file, 0 when it does not exist (a WAL between two connections). */
static int64_t file_bytes(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static enum store_status sqlite_fleet(struct store *base, int64_t now, int64_t default_interval,
                                      int64_t counts[FLEET__COUNT])
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_filename db = sqlite3_db_filename(s->db, "main");
    counts[FLEET_BYTES] = file_bytes(db) + file_bytes(db ? sqlite3_filename_wal(db) : NULL);
    return count_devices(s, STMT_DEVICE_FLEET, now, default_interval, counts, FLEET_BYTES);
}

static enum store_status sqlite_device_trust(struct store *base, const char *deviceid, struct device_trust *out,
                                            char *stored, size_t stored_len)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_TRUST);
    bind_text(st, 1, deviceid);
    return read_trust(s, st, out, stored, stored_len);
}

static enum store_status sqlite_device_signed(struct store *base, const char *deviceid, int64_t t,
                                              bool state_changing)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_SIGNED);
    bind_text(st, 1, deviceid);
    sqlite3_bind_int64(st, 2, t);
    sqlite3_bind_int(st, 3, state_changing);
    enum store_status result = write_one_row(s, STMT_DEVICE_SIGNED);
    return result == STORE_NOT_FOUND ? STORE_STALE : result;
}

/* Records a device's last accepted SEQN, and that it was seen then (through the seen sink: a
 * reading writes no heartbeat-time page of its own). */
static enum store_status mark_last_seqn(struct sqlite_store *s, int64_t device, int64_t seqn, int64_t at)
{
    sqlite3_stmt *mark = stmt(s, STMT_READING_MARK);
    sqlite3_bind_int64(mark, 1, device);
    sqlite3_bind_int64(mark, 2, seqn);
    int rc = sqlite3_step(mark);
    stmt_done(mark);
    return rc == SQLITE_DONE ? device_seen(s, device, at) : fail(s, "record SEQN");
}

static enum store_status sqlite_reading_add(struct store *base, const char *deviceid, int64_t seqn,
                                            int64_t received_at, int64_t ts, const char *reading,
                                            size_t reading_len, int64_t epoch, int64_t envelope)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status result = begin(s);
    if (result != STORE_OK)
        return result;
    sqlite3_stmt *claim = stmt(s, STMT_READING_CLAIM);
    bind_text(claim, 1, deviceid);
    sqlite3_bind_int64(claim, 2, seqn);
    sqlite3_bind_int64(claim, 3, epoch);
    sqlite3_bind_int64(claim, 4, envelope);
    int rc = sqlite3_step(claim);
    int64_t device = rc == SQLITE_ROW ? sqlite3_column_int64(claim, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(claim); /* RETURNING's statement is done only once stepped to the end */
    stmt_done(claim);
    if (rc != SQLITE_DONE)
        return finish(s, fail(s, "claim SEQN"));
    if (device == 0) { /* nothing claimed: no such device, or a SEQN not above its last one */
        bind_text(stmt(s, STMT_DEVICE_TRUST), 1, deviceid);
        rc = sqlite3_step(stmt(s, STMT_DEVICE_TRUST));
        stmt_done(stmt(s, STMT_DEVICE_TRUST));
        if (rc == SQLITE_ROW)
            return finish(s, STORE_STALE);
        return finish(s, rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device"));
    }

    sqlite3_stmt *ins = stmt(s, STMT_READING_INSERT);
    sqlite3_bind_int64(ins, 1, device);
    sqlite3_bind_int64(ins, 2, seqn);
    sqlite3_bind_int64(ins, 3, received_at);
    if (ts != TS_NONE)
        sqlite3_bind_int64(ins, 4, ts);
    sqlite3_bind_text(ins, 5, reading, (int)reading_len, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 6, epoch);
    rc = sqlite3_step(ins);
    stmt_done(ins);
    if (rc != SQLITE_DONE)
        return finish(s, fail(s, "store reading"));
    return finish(s, device_seen(s, device, received_at));
}

static enum store_status sqlite_reading_list(struct store *base, const char *deviceid,
                                             const struct reading_filter *f, store_reading_fn fn,
                                             void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum stmt id = f->ascending ? STMT_READING_LIST_ASC : STMT_READING_LIST_DESC;
    sqlite3_stmt *st = stmt(s, id);
    bind_text(st, 1, deviceid);
    sqlite3_bind_int64(st, 2, f->since);
    sqlite3_bind_int64(st, 3, f->until);
    if (f->after >= 0)
        sqlite3_bind_int64(st, 4, f->after);
    sqlite3_bind_int64(st, 5, f->limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct reading r = {
            .id = sqlite3_column_int64(st, 0),
            .seqn = sqlite3_column_int64(st, 1),
            .received_at = sqlite3_column_int64(st, 2),
            .ts = column_int_or(st, 3, TS_NONE),
            .reading = column_text(st, 4),
        };
        if (!fn(&r, user_data)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "list readings");
}

static enum store_status sqlite_reading_buckets(struct store *base, const char *deviceid, int64_t since,
                                                int64_t until, int64_t bucket_seconds, store_bucket_fn fn,
                                                void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_READING_BUCKETS);
    bind_text(st, 1, deviceid);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, until);
    sqlite3_bind_int64(st, 4, bucket_seconds);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct bucket_stat b = {
            .start = sqlite3_column_int64(st, 0),
            .field = column_text(st, 1),
            .min = sqlite3_column_double(st, 2),
            .avg = sqlite3_column_double(st, 3),
            .max = sqlite3_column_double(st, 4),
            .count = sqlite3_column_int64(st, 5),
        };
        fn(&b, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "bucket readings");
}

/* Runs a delete of up to ?2 rows older than ?1; *deleted says how many went. */
static enum store_status delete_batch(struct sqlite_store *s, enum stmt id, int64_t before, int max,
                                      int *deleted, const char *what)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, max);
    int rc = sqlite3_step(st);
    stmt_done(st);
    *deleted = rc == SQLITE_DONE ? sqlite3_changes(s->db) : 0;
    return rc == SQLITE_DONE ? STORE_OK : fail(s, what);
}

static enum store_status sqlite_device_expire_pending(struct store *base, int64_t before, int max,
                                                      int *deleted)
{
    return delete_batch(sqlite_of(base), STMT_DEVICE_EXPIRE_PENDING, before, max, deleted,
                        "expire pending devices");
}

static enum store_status sqlite_reading_prune(struct store *base, int64_t before, int max, int *deleted)
{
    struct sqlite_store *s = sqlite_of(base);
    *deleted = 0;
    int64_t any_old; /* first alone: the delete reads max readings even when none is old */
    sqlite3_bind_int64(stmt(s, STMT_READING_OLDEST), 1, before);
    enum store_status result = read_counts(s, STMT_READING_OLDEST, &any_old, 1);
    if (result != STORE_OK || !any_old)
        return result;
    return delete_batch(s, STMT_READING_PRUNE, before, max, deleted, "prune readings");
}

static enum store_status sqlite_token_add(struct store *base, const char *name,
                                          const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                          int64_t expires)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_ADD);
    bind_text(st, 1, name);
    sqlite3_bind_blob(st, 2, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires);
    int rc = sqlite3_step(st);
    int extended = sqlite3_extended_errcode(s->db);
    stmt_done(st);
    if (rc == SQLITE_DONE)
        return STORE_OK;
    if (extended == SQLITE_CONSTRAINT_PRIMARYKEY || extended == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_EXISTS;
    return fail(s, "add token");
}

static enum store_status sqlite_token_check(struct store *base,
                                            const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t *expires,
                                            int64_t *last_used, char name[STORE_TOKEN_NAME_MAX + 1])
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_CHECK);
    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *expires = sqlite3_column_int64(st, 0);
        *last_used = sqlite3_column_int64(st, 1);
        snprintf(name, STORE_TOKEN_NAME_MAX + 1, "%s", column_text(st, 2));
    }
    stmt_done(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "check token");
}

/* A later use already recorded (another worker's) counts as this one. */
static enum store_status sqlite_token_used(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                           int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_USED);
    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return write_one_row(s, STMT_TOKEN_USED) == STORE_ERROR ? STORE_ERROR : STORE_OK;
}

static enum store_status sqlite_token_list(struct store *base, store_token_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_LIST);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct token_info t = {column_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                               sqlite3_column_int64(st, 3)};
        fn(&t, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "list tokens");
}

static enum store_status sqlite_token_revoke(struct store *base, const char *name)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_TOKEN_REVOKE), 1, name);
    return write_one_row(s, STMT_TOKEN_REVOKE);
}

/* ---- the audit trail and the overview ---- */

static enum store_status sqlite_device_lock(struct store *base, const char *deviceid, store_device_fn fn,
                                            void *user_data)
{
    return sqlite_device_get(base, deviceid, fn, user_data); /* the write transaction holds the database */
}

static const char *column_text_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : column_text(st, i);
}

static enum store_status sqlite_audit_add(struct store *base, const struct audit_entry *e)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_AUDIT_ADD);
    sqlite3_bind_int64(st, 1, e->at);
    bind_text(st, 2, e->via);
    bind_text(st, 3, e->actor);
    bind_text(st, 4, e->action);
    bind_text(st, 5, e->target);
    bind_text(st, 6, e->before);
    bind_text(st, 7, e->after);
    return exec_stmt(s, STMT_AUDIT_ADD);
}

static enum store_status sqlite_audit_list(struct store *base, const struct audit_filter *f, store_audit_fn fn,
                                           void *user_data, int *count)
{
    struct sqlite_store *s = sqlite_of(base);
    enum stmt id = f->device ? STMT_AUDIT_LIST_DEVICE : STMT_AUDIT_LIST;
    sqlite3_stmt *st = stmt(s, id);
    if (f->after >= 0)
        sqlite3_bind_int64(st, 1, f->after);
    sqlite3_bind_int64(st, 2, f->since);
    sqlite3_bind_int(st, 3, f->limit);
    if (f->device)
        bind_text(st, 4, f->device);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_entry e = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .via = column_text(st, 2),
            .actor = column_text(st, 3),
            .action = column_text(st, 4),
            .target = column_text(st, 5),
            .before = column_text_or_null(st, 6),
            .after = column_text_or_null(st, 7),
        };
        fn(&e, user_data);
        n++;
    }
    stmt_done(st);
    *count = n;
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "list the audit trail");
}

static enum store_status sqlite_audit_prune(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(sqlite_of(base), STMT_AUDIT_PRUNE, before, max, deleted, "prune the audit trail");
}

static enum store_status sqlite_recently_offline(struct store *base, int64_t now, int64_t default_interval,
                                                 int max, store_device_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_RECENTLY_OFFLINE);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    sqlite3_bind_int(st, 3, max);
    enum store_status result = device_rows(s, STMT_RECENTLY_OFFLINE, fn, user_data, NULL, NULL);
    return result == STORE_NOT_FOUND ? STORE_OK : result;
}

static enum store_status sqlite_reading_last_id(struct store *base, int64_t *id)
{
    return read_counts(sqlite_of(base), STMT_READING_LAST_ID, id, 1);
}

/* ---- alerts ---- */

/* The stack's sweeper holds the flock() of <db>-alerts.lock for its connection's life (the kernel
 * frees it when the process dies), as the writer's election does with <db>-writer.lock. */
static enum store_status sqlite_alert_lead(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (s->alert_lock >= 0)
        return STORE_OK;
    const char *db = sqlite3_db_filename(s->db, "main");
    char path[4096];
    if (!db || (size_t)snprintf(path, sizeof path, "%s-alerts.lock", db) >= sizeof path) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "the database's path is too long for its alerts lock");
        return STORE_ERROR;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.200s: cannot open", path);
        return STORE_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return STORE_STALE;
    }
    s->alert_lock = fd;
    return STORE_OK;
}

static void bind_sweep(struct sqlite_store *s, enum stmt id, int64_t now, int64_t default_interval, int max)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    sqlite3_bind_int(st, 3, max);
}

/* One write transaction: nothing else writes between the two statements, so both pick the
 * same devices. */
static enum store_status sqlite_alert_sweep(struct store *base, int64_t now, int64_t default_interval, int max,
                                            int *judged)
{
    struct sqlite_store *s = sqlite_of(base);
    *judged = 0;
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    bind_sweep(s, STMT_ALERT_WRITE, now, default_interval, max);
    st = exec_stmt(s, STMT_ALERT_WRITE);
    if (st == STORE_OK) {
        bind_sweep(s, STMT_ALERT_JUDGE, now, default_interval, max);
        st = exec_stmt(s, STMT_ALERT_JUDGE);
        *judged = sqlite3_changes(s->db);
    }
    return finish(s, st);
}

static enum store_status sqlite_alert_enqueue(struct store *base, const char *kind, const char *subject,
                                              int64_t at, const char *detail)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ALERT_ENQUEUE);
    bind_text(st, 1, subject);
    bind_text(st, 2, kind);
    sqlite3_bind_int64(st, 3, at);
    bind_text(st, 4, detail);
    return exec_stmt(s, STMT_ALERT_ENQUEUE);
}

static enum store_status sqlite_alert_due(struct store *base, int64_t now, int max, store_alert_fn fn,
                                          void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ALERT_DUE);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct alert a = {.id = sqlite3_column_int64(st, 0), .kind = column_text(st, 1),
                          .subject = column_text(st, 2), .at = sqlite3_column_int64(st, 3),
                          .name = column_text_or_null(st, 4), .liveness_from = column_text_or_null(st, 5),
                          .liveness_to = column_text_or_null(st, 6), .lastseen = sqlite3_column_int64(st, 7),
                          .detail = column_text_or_null(st, 8), .attempts = sqlite3_column_int64(st, 9)};
        fn(&a, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "alerts due");
}

static enum store_status sqlite_alert_done(struct store *base, int64_t id, bool delivered)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_bind_int64(stmt(s, STMT_ALERT_DELETE), 1, id);
    st = write_one_row(s, STMT_ALERT_DELETE);
    if (st == STORE_OK) {
        sqlite3_stmt *count = stmt(s, STMT_ALERT_COUNT);
        sqlite3_bind_int(count, 1, delivered);
        sqlite3_bind_int(count, 2, !delivered);
        st = exec_stmt(s, STMT_ALERT_COUNT);
    }
    return finish(s, st);
}

static enum store_status sqlite_alert_retry(struct store *base, int64_t id, int64_t next_at)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ALERT_RETRY);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, next_at);
    return write_one_row(s, STMT_ALERT_RETRY);
}

static enum store_status sqlite_alert_counts(struct store *base, struct alert_counts *out)
{
    struct sqlite_store *s = sqlite_of(base);
    int64_t c[3] = {0};
    enum store_status st = read_counts(s, STMT_ALERT_COUNTS, c, 3);
    *out = (struct alert_counts){.pending = c[0], .sent = c[1], .failed = c[2]};
    return st;
}

/* ---- bulk loading ---- */

/* One transaction without syncing: nothing else is acknowledged meanwhile, so only the load
 * itself is at risk. A large cache writes each page to the WAL once, at commit. */
#define BULK_CACHE_KIB "1048576"

static enum store_status bulk_begin(struct sqlite_store *s)
{
    if (sqlite3_exec(s->db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -" BULK_CACHE_KIB, NULL, NULL,
                     NULL) != SQLITE_OK)
        return fail(s, "bulk load");
    return begin(s);
}

/* Commits or rolls back, puts syncing back and moves the WAL into the database file. */
static enum store_status bulk_end(struct sqlite_store *s, enum store_status st)
{
    st = finish(s, st);
    char pragmas[128]; /* from this file's constants only */
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA synchronous = %s; PRAGMA cache_size = -" CACHE_KIB "; PRAGMA wal_checkpoint(TRUNCATE);",
             s->synchronous);
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK && st == STORE_OK)
        st = fail(s, "end bulk load");
    return st;
}

static enum store_status bulk_bad_id(struct sqlite_store *s, const char *prefix)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk load: prefix \"%.64s\" makes ids longer than 64",
             prefix);
    return STORE_ERROR;
}

/* Prepared here, not in stmt_sql[]: a load is rare, and one statement per row (not register
 * plus set-key) keeps a million rows within seconds. */
#define BULK_DEVICE_SQL                                                                                      \
    "INSERT INTO devices (deviceid, state, ipaddr, ssid, datec, key) "                                       \
    "VALUES (?1, 'accepted', '10.0.0.1', 'bulk', ?2, ?3)"

static enum store_status sqlite_device_bulk_add(struct store *base, const char *prefix, int64_t first,
                                                int64_t count, const char *key, int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(s->db, BULK_DEVICE_SQL, -1, &ins, NULL) != SQLITE_OK)
        return fail(s, "bulk devices");
    enum store_status st = bulk_begin(s);
    sqlite3_bind_int64(ins, 2, now);
    bind_text(ins, 3, key);
    for (int64_t n = first; st == STORE_OK && n < first + count; n++) {
        store_bulk_id(prefix, n, id, sizeof id);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            st = fail(s, "bulk devices: insert");
        sqlite3_reset(ins);
        if (st == STORE_OK)
            st = set_new_device_seen(s, now);
    }
    sqlite3_finalize(ins);
    return bulk_end(s, st);
}

/* Adds one device's readings 1..per_device inside the bulk transaction. */
static enum store_status bulk_readings(struct sqlite_store *s, const char *deviceid, int64_t per_device,
                                       int64_t now, int64_t step, store_reading_text_fn fn, void *user_data)
{
    sqlite3_stmt *check = stmt(s, STMT_READING_SEQN_CHECK);
    bind_text(check, 1, deviceid);
    int rc = sqlite3_step(check);
    int64_t device = rc == SQLITE_ROW ? sqlite3_column_int64(check, 0) : 0;
    int64_t epoch = rc == SQLITE_ROW ? sqlite3_column_int64(check, 2) : 0;
    stmt_done(check);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "bulk readings: find device");
    char text[512];
    for (int64_t seqn = 1; seqn <= per_device; seqn++) {
        size_t len = fn(seqn, text, sizeof text, user_data);
        if (len == 0 || len >= sizeof text) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk readings: reading %lld has no text",
                     (long long)seqn);
            return STORE_ERROR;
        }
        sqlite3_stmt *ins = stmt(s, STMT_READING_INSERT);
        sqlite3_bind_int64(ins, 1, device);
        sqlite3_bind_int64(ins, 2, seqn);
        sqlite3_bind_int64(ins, 3, now - (per_device - seqn) * step);
        sqlite3_bind_text(ins, 5, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 6, epoch);
        rc = sqlite3_step(ins);
        stmt_done(ins);
        if (rc != SQLITE_DONE)
            return fail(s, "bulk readings: insert");
    }
    return mark_last_seqn(s, device, per_device, now);
}

static enum store_status sqlite_reading_bulk_add(struct store *base, const char *prefix, int64_t first,
                                                 int64_t count, int64_t per_device, int64_t now, int64_t step,
                                                 store_reading_text_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    enum store_status st = bulk_begin(s);
    for (int64_t n = first; st == STORE_OK && n < first + count; n++) {
        store_bulk_id(prefix, n, id, sizeof id);
        st = bulk_readings(s, id, per_device, now, step, fn, user_data);
    }
    return bulk_end(s, st);
}

/* ---- firmware ---- */

static void read_firmware(sqlite3_stmt *st, struct firmware *fw)
{
    fw->version = column_text(st, 0);
    fw->sha256 = column_text(st, 1);
    fw->md5 = column_text(st, 2);
    fw->size = sqlite3_column_int64(st, 3);
    fw->created = sqlite3_column_int64(st, 4);
}

/* Steps a statement returning firmware rows, handing each to fn; STORE_NOT_FOUND for none. */
static enum store_status firmware_rows(struct sqlite_store *s, enum stmt id, store_firmware_fn fn, void *user_data)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct firmware fw;
        read_firmware(st, &fw);
        if (fn)
            fn(&fw, user_data);
        n++;
    }
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return fail(s, stmt_sql[id]);
    return n > 0 || id == STMT_FIRMWARE_LIST ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status sqlite_firmware_get(struct store *base, const char *version, store_firmware_fn fn,
                                             void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_FIRMWARE_GET), 1, version);
    return firmware_rows(s, STMT_FIRMWARE_GET, fn, user_data);
}

static enum store_status sqlite_firmware_running(struct store *base, int max, store_version_count_fn fn,
                                                 void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_FIRMWARE_RUNNING);
    sqlite3_bind_int(st, 1, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), user_data);
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, stmt_sql[STMT_FIRMWARE_RUNNING]);
}

static enum store_status sqlite_firmware_list(struct store *base, store_firmware_fn fn, void *user_data)
{
    return firmware_rows(sqlite_of(base), STMT_FIRMWARE_LIST, fn, user_data);
}

static enum store_status sqlite_firmware_add(struct store *base, const struct firmware *fw, const void *image,
                                             store_firmware_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    struct firmware_same c = {fw->sha256, false, fn, user_data};
    bind_text(stmt(s, STMT_FIRMWARE_GET), 1, fw->version);
    st = firmware_rows(s, STMT_FIRMWARE_GET, firmware_compare, &c);
    if (st == STORE_OK) {
        st = c.same ? STORE_OK : STORE_EXISTS;
    } else if (st == STORE_NOT_FOUND) {
        sqlite3_stmt *img = stmt(s, STMT_FIRMWARE_IMAGE_ADD);
        bind_text(img, 1, fw->sha256);
        sqlite3_bind_blob64(img, 2, image, (sqlite3_uint64)fw->size, SQLITE_STATIC);
        st = exec_stmt(s, STMT_FIRMWARE_IMAGE_ADD);
        sqlite3_stmt *add = stmt(s, STMT_FIRMWARE_ADD);
        bind_text(add, 1, fw->version);
        bind_text(add, 2, fw->sha256);
        sqlite3_bind_int64(add, 3, fw->size);
        bind_text(add, 4, fw->md5);
        sqlite3_bind_int64(add, 5, fw->created);
        if (st == STORE_OK && (st = exec_stmt(s, STMT_FIRMWARE_ADD)) == STORE_OK)
            st = STORE_CREATED;
    }
    if (st == STORE_CREATED)
        return finish(s, st);
    roll_back(s); /* the same bytes, other bytes or a failure: nothing to keep */
    return st;
}

static enum store_status sqlite_firmware_delete(struct store *base, const char *version)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *del = stmt(s, STMT_FIRMWARE_DELETE);
    bind_text(del, 1, version);
    char sha256[65] = "";
    int rc = sqlite3_step(del);
    if (rc == SQLITE_ROW)
        snprintf(sha256, sizeof sha256, "%s", column_text(del, 0));
    stmt_done(del);
    if (rc == SQLITE_ROW) {
        bind_text(stmt(s, STMT_FIRMWARE_IMAGE_DROP), 1, sha256);
        st = exec_stmt(s, STMT_FIRMWARE_IMAGE_DROP);
    } else if (rc == SQLITE_DONE) {
        bind_text(stmt(s, STMT_FIRMWARE_GET), 1, version);
        st = firmware_rows(s, STMT_FIRMWARE_GET, NULL, NULL);
        st = st == STORE_OK ? STORE_STALE : st;
    } else {
        st = fail(s, "delete firmware");
    }
    return finish(s, st);
}

static enum store_status sqlite_firmware_image(struct store *base, const char *sha256, void **image, size_t *size)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_FIRMWARE_IMAGE);
    bind_text(st, 1, sha256);
    int rc = sqlite3_step(st);
    enum store_status result = STORE_OK;
    *image = NULL;
    if (rc == SQLITE_ROW) {
        *size = (size_t)sqlite3_column_bytes(st, 0);
        *image = malloc(*size ? *size : 1);
        if (*image)
            memcpy(*image, sqlite3_column_blob(st, 0), *size);
        else
            result = STORE_ERROR;
    } else {
        result = rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read firmware image");
    }
    stmt_done(st);
    return result;
}

/* Steps a statement (bound) and copies the first column of its row into out (out_len bytes):
 * STORE_NOT_FOUND when there is none. */
static enum store_status read_text(struct sqlite_store *s, enum stmt id, char *out, size_t out_len)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, out_len, "%s", column_text(st, 0));
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, stmt_sql[id]);
}

static enum store_status sqlite_device_firmware(struct store *base, const char *deviceid, enum firmware_event event,
                                                const char *version, char status[FIRMWARE_STATUS_LEN])
{
    struct sqlite_store *s = sqlite_of(base);
    char after[FIRMWARE_STATUS_LEN];
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *up = stmt(s, STMT_DEVICE_FIRMWARE);
    bind_text(up, 1, deviceid);
    sqlite3_bind_int(up, 2, (int)event);
    bind_text(up, 3, version);
    return finish(s, read_text(s, STMT_DEVICE_FIRMWARE, status ? status : after, FIRMWARE_STATUS_LEN));
}

static enum store_status sqlite_device_by_mac(struct store *base, const char *mac12, char deviceid[DEVICE_ID_MAX + 1])
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_DEVICE_BY_MAC), 1, mac12);
    return read_text(s, STMT_DEVICE_BY_MAC, deviceid, DEVICE_ID_MAX + 1);
}

/* ---- staged rollouts ---- */

static enum store_status sqlite_rollout_add(struct store *base, const struct rollout *r, int64_t *id)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ROLLOUT_ADD);
    bind_text(st, 1, r->firmware);
    bind_text(st, 2, r->tag);
    bind_text(st, 3, r->stages);
    sqlite3_bind_int(st, 4, r->success_threshold);
    sqlite3_bind_int(st, 5, r->failure_threshold);
    sqlite3_bind_int64(st, 6, r->timeout);
    sqlite3_bind_int64(st, 7, r->created);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_CREATED : rc == SQLITE_DONE ? STORE_EXISTS : fail(s, "add rollout");
}

static enum store_status sqlite_rollout_list(struct store *base, int64_t id, const char *state, store_rollout_fn fn,
                                             void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ROLLOUT_LIST);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, state);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollout r = {
            .id = sqlite3_column_int64(st, 0),
            .firmware = column_text(st, 1),
            .tag = column_text(st, 2),
            .stages = column_text(st, 3),
            .success_threshold = sqlite3_column_int(st, 4),
            .failure_threshold = sqlite3_column_int(st, 5),
            .timeout = sqlite3_column_int64(st, 6),
            .state = column_text(st, 7),
            .stage = sqlite3_column_int(st, 8),
            .reason = column_text(st, 9),
            .created = sqlite3_column_int64(st, 10),
            .updated = sqlite3_column_int64(st, 11),
        };
        n++;
        if (fn)
            fn(&r, user_data);
    }
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return fail(s, "list rollouts");
    return n > 0 || id == 0 ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status sqlite_rollout_stages(struct store *base, int64_t id, store_rollout_stage_fn fn,
                                               void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ROLLOUT_STAGES);
    sqlite3_bind_int64(st, 1, id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollout_stage_count c = {
            .stage = sqlite3_column_int(st, 0),
            .devices = sqlite3_column_int64(st, 1),
            .pending = sqlite3_column_int64(st, 2),
            .in_progress = sqlite3_column_int64(st, 3),
            .installed = sqlite3_column_int64(st, 4),
            .failed = sqlite3_column_int64(st, 5),
        };
        fn(&c, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "rollout stages");
}

/* Runs a bound statement to its end (RETURNING rows are done only once stepped through): how many
 * rows it returned into *rows. */
static enum store_status step_all(struct sqlite_store *s, enum stmt id, int64_t *rows)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ++*rows;
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, stmt_sql[id]);
}

static enum store_status sqlite_rollout_state(struct store *base, int64_t id, const char *from, int stage,
                                              const char *to, const char *reason, int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *up = stmt(s, STMT_ROLLOUT_STATE);
    sqlite3_bind_int64(up, 1, id);
    bind_text(up, 2, from);
    sqlite3_bind_int(up, 3, stage);
    bind_text(up, 4, to);
    bind_text(up, 5, reason);
    sqlite3_bind_int64(up, 6, now);
    int64_t moved = 0;
    st = step_all(s, STMT_ROLLOUT_STATE, &moved);
    if (st == STORE_OK && moved && strcmp(to, "cancelled") == 0) {
        sqlite3_bind_int64(stmt(s, STMT_ROLLOUT_UNASSIGN), 1, id);
        st = exec_stmt(s, STMT_ROLLOUT_UNASSIGN);
    } else if (st == STORE_OK && !moved) {
        char state[16];
        sqlite3_bind_int64(stmt(s, STMT_ROLLOUT_EXISTS), 1, id);
        st = read_text(s, STMT_ROLLOUT_EXISTS, state, sizeof state);
        st = st == STORE_OK ? STORE_STALE : st;
    }
    return finish(s, st);
}

static enum store_status sqlite_rollout_start(struct store *base, int64_t id, int stage, int64_t devices,
                                              int64_t now, int64_t *assigned)
{
    struct sqlite_store *s = sqlite_of(base);
    *assigned = 0;
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *claim = stmt(s, STMT_ROLLOUT_CLAIM);
    sqlite3_bind_int64(claim, 1, id);
    sqlite3_bind_int(claim, 2, stage);
    sqlite3_bind_int64(claim, 3, now);
    int64_t claimed = 0;
    st = step_all(s, STMT_ROLLOUT_CLAIM, &claimed);
    if (st == STORE_OK && !claimed)
        st = STORE_STALE;
    if (st == STORE_OK) {
        sqlite3_stmt *members = stmt(s, STMT_ROLLOUT_MEMBERS);
        sqlite3_bind_int64(members, 1, id);
        sqlite3_bind_int(members, 2, stage + 1);
        sqlite3_bind_int64(members, 3, devices);
        st = exec_stmt(s, STMT_ROLLOUT_MEMBERS);
    }
    if (st == STORE_OK) {
        sqlite3_stmt *assign = stmt(s, STMT_ROLLOUT_ASSIGN);
        sqlite3_bind_int64(assign, 1, id);
        sqlite3_bind_int(assign, 2, stage + 1);
        st = exec_stmt(s, STMT_ROLLOUT_ASSIGN);
        *assigned = sqlite3_changes64(s->db);
    }
    return finish(s, st);
}

static enum store_status sqlite_rollout_timeouts(struct store *base, int64_t id, int64_t now, int64_t *failed)
{
    struct sqlite_store *s = sqlite_of(base);
    *failed = 0;
    enum store_status st = STORE_OK;
    for (enum stmt i = STMT_ROLLOUT_DOWNLOADED; st == STORE_OK && i <= STMT_ROLLOUT_TIMEOUT; i++) {
        sqlite3_bind_int64(stmt(s, i), 1, id);
        sqlite3_bind_int64(stmt(s, i), 2, now);
        st = exec_stmt(s, i);
    }
    if (st == STORE_OK)
        *failed = sqlite3_changes64(s->db);
    return st;
}

static const struct store_ops sqlite_ops = {
    .needs = STORE_NEEDS_GROUP_COMMIT | STORE_NEEDS_CHECKPOINTS | STORE_NEEDS_PRUNE_BY_WRITERS,
    .free = sqlite_free,
    .ping = sqlite_ping,
    .sync_every_commit = sqlite_sync_every_commit,
    .prepare_all = sqlite_prepare_all,
    .read_begin = sqlite_read_begin,
    .read_end = sqlite_read_end,
    .backup = sqlite_backup,
    .restore = sqlite_restore,
    .device_register = sqlite_device_register,
    .device_heartbeat = sqlite_device_heartbeat,
    .heartbeat_seen = sqlite_heartbeat_seen,
    .device_poll = sqlite_device_poll,
    .device_get = sqlite_device_get,
    .device_update = sqlite_device_update,
    .device_delete = sqlite_device_delete,
    .device_set_key = sqlite_device_set_key,
    .device_keys_plain = sqlite_device_keys_plain,
    .device_key_replace = sqlite_device_key_replace,
    .device_list = sqlite_device_list,
    .device_count = sqlite_device_count,
    .device_bulk = sqlite_device_bulk,
    .reading_count = sqlite_reading_count,
    .fleet = sqlite_fleet,
    .device_trust = sqlite_device_trust,
    .device_signed = sqlite_device_signed,
    .reading_add = sqlite_reading_add,
    .reading_list = sqlite_reading_list,
    .reading_buckets = sqlite_reading_buckets,
    .reading_prune = sqlite_reading_prune,
    .device_expire_pending = sqlite_device_expire_pending,
    .firmware_add = sqlite_firmware_add,
    .firmware_get = sqlite_firmware_get,
    .firmware_list = sqlite_firmware_list,
    .firmware_running = sqlite_firmware_running,
    .firmware_delete = sqlite_firmware_delete,
    .firmware_image = sqlite_firmware_image,
    .device_firmware = sqlite_device_firmware,
    .device_by_mac = sqlite_device_by_mac,
    .rollout_add = sqlite_rollout_add,
    .rollout_list = sqlite_rollout_list,
    .rollout_stages = sqlite_rollout_stages,
    .rollout_state = sqlite_rollout_state,
    .rollout_start = sqlite_rollout_start,
    .rollout_timeouts = sqlite_rollout_timeouts,
    .token_add = sqlite_token_add,
    .token_check = sqlite_token_check,
    .token_used = sqlite_token_used,
    .alert_lead = sqlite_alert_lead,
    .alert_sweep = sqlite_alert_sweep,
    .alert_enqueue = sqlite_alert_enqueue,
    .alert_due = sqlite_alert_due,
    .alert_done = sqlite_alert_done,
    .alert_retry = sqlite_alert_retry,
    .alert_counts = sqlite_alert_counts,
    .token_list = sqlite_token_list,
    .token_revoke = sqlite_token_revoke,
    .write_begin = sqlite_write_begin,
    .write_end = sqlite_write_end,
    .device_lock = sqlite_device_lock,
    .audit_add = sqlite_audit_add,
    .audit_list = sqlite_audit_list,
    .audit_prune = sqlite_audit_prune,
    .recently_offline = sqlite_recently_offline,
    .reading_last_id = sqlite_reading_last_id,
    .device_bulk_add = sqlite_device_bulk_add,
    .reading_bulk_add = sqlite_reading_bulk_add,
};
