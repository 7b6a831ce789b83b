/* The SQLite backend's table of statements (enum stmt, store_sqlite_internal.h): the SQL of each,
 * and the column lists and clauses several share. PRAGMAs and the bulk load's insert stay by their code. */
#include "store_sqlite_internal.h"

#include "validate.h"

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
/* What a heartbeat's answer depends on, and the row (struct poll_facts). */
#define POLL_FACT_COLUMNS "id, state, cfgsn, coalesce(cfgsn_applied, -1), fw_status, coalesce(fw_running, '')"

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

const char *const stmt_sql[STMT__COUNT] = {
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
    /* What the caps on new devices count: all devices, and those registered from ?1 since ?2, up
     * to the cap on them, ?3 (0: none counted, no cap). */
    [STMT_REGISTRATION_COUNTS] = "SELECT (SELECT devices FROM device_count), (SELECT count(*) FROM "
                                 "(SELECT 1 FROM devices WHERE registered_from = ?1 AND datec > ?2 "
                                 "LIMIT ?3))",
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
    /* A proved caller's: INDEXED BY, since the planner would take the unique index on deviceid
     * and read the row too. */
    [STMT_DEVICE_POLL_CURRENT] =
        "SELECT " POLL_FACT_COLUMNS " FROM devices INDEXED BY devices_poll WHERE deviceid = ?1",
    /* Any other caller's: the trust it is checked against too, from the row, in the same read. */
    [STMT_DEVICE_POLL_TRUST] = "SELECT " TRUST_COLUMNS ", " POLL_FACT_COLUMNS " FROM devices WHERE deviceid = ?1",
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
        "UPDATE devices SET last_seqn = ?2, trust = trust | ?4 WHERE deviceid = ?1 AND state = 'accepted' "
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
    [STMT_DEVICE_IMAGE] = FIRMWARE_DOWNLOAD_SQL("?1", "?2", "?3"),
    [STMT_DEVICE_BY_MAC] = DEVICE_BY_MAC_SQL("?1"),
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

_Static_assert(DEVICE_TAGS_MAX == 16, "STMT_DEVICE_BULK's tag cap");
_Static_assert(DATA_MAX == 8192, "BULK_SET_CHANGES's size cap");
