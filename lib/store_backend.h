/* What a storage backend provides behind store.h: one table of operations per backend
 * (store_sqlite.c's, store_pg.c's), each with the contract of the store.h function of the same name.
 * Only lib/store*.c include this. */
#ifndef PROVD_STORE_BACKEND_H
#define PROVD_STORE_BACKEND_H

#include <string.h>

#include "store.h"

/* What a backend's fleet operation counts, in its statement's column order; store_fleet() makes a
 * struct store_fleet of them. FLEET_BYTES: the database's size on disk. */
enum fleet_count {
    FLEET_PENDING, FLEET_ACCEPTED, FLEET_REJECTED, /* by state */
    FLEET_ONLINE, FLEET_OVERDUE, FLEET_ALL,        /* by liveness, then every device */
    FLEET_BYTES,
    FLEET__COUNT
};

/* A stored device key, borrowed for the call. */
typedef void (*store_key_fn)(const char *deviceid, const char *key, void *user_data);

struct store_ops {
    unsigned needs; /* STORE_NEEDS_* */
    void (*free)(struct store *s);
    enum store_status (*ping)(struct store *s);
    enum store_status (*sync_every_commit)(struct store *s);
    enum store_status (*prepare_all)(struct store *s);
    enum store_status (*read_begin)(struct store *s);
    void (*read_end)(struct store *s);
    int (*flush)(struct store *s, bool all); /* NULL: it keeps nothing back */
    int (*flush_due_in)(const struct store *s); /* NULL: it keeps nothing back */
    enum store_status (*backup)(struct store *s, const char *path, store_progress_fn fn, void *user_data);
    enum store_status (*restore)(struct store *s, const char *path, store_progress_fn fn, void *user_data);

    enum store_status (*device_register)(struct store *s, const char *deviceid, const char *ipaddr,
                                         const char *ssid, const char *location,
                                         const struct registration *reg, int64_t now,
                                         store_device_fn fn, void *user_data);
    /* STORE_CALLER_TO_PROVE: facts->trust but its key, which goes to stored as stored. */
    enum store_status (*device_heartbeat)(struct store *s, const char *deviceid, enum store_caller caller,
                                          int64_t now, struct poll_facts *facts, char *stored,
                                          size_t stored_len);
    /* row: poll_facts.row, as device_heartbeat gave it. */
    enum store_status (*heartbeat_seen)(struct store *s, const char *deviceid, int64_t row, int64_t now);
    enum store_status (*device_poll)(struct store *s, const char *deviceid, enum store_caller caller,
                                     int64_t applied, int64_t now, store_device_fn fn, void *user_data);
    enum store_status (*device_get)(struct store *s, const char *deviceid, store_device_fn fn,
                                    void *user_data);
    enum store_status (*device_update)(struct store *s, const char *deviceid,
                                       const struct device_update *update, int64_t now, store_device_fn fn,
                                       void *user_data);
    enum store_status (*device_delete)(struct store *s, const char *deviceid);
    /* key is stored as given (store.c seals it). */
    enum store_status (*device_set_key)(struct store *s, const char *deviceid, const char *key);
    /* Up to max devices whose key is stored plain (not KEY_WRAP_PREFIX...), to fn. */
    enum store_status (*device_keys_plain)(struct store *s, int max, store_key_fn fn, void *user_data);
    /* The device's key becomes key if it is still old: STORE_NOT_FOUND otherwise. */
    enum store_status (*device_key_replace)(struct store *s, const char *deviceid, const char *old,
                                            const char *key);
    enum store_status (*device_list)(struct store *s, const struct device_filter *filter, store_device_fn fn,
                                     void *user_data, int *count);
    enum store_status (*device_count)(struct store *s, const struct device_filter *filter, int64_t *count);
    enum store_status (*device_bulk)(struct store *s, const struct device_filter *filter,
                                     const struct device_bulk *bulk, int64_t *affected);
    enum store_status (*reading_count)(struct store *s, int64_t *count);
    enum store_status (*fleet)(struct store *s, int64_t now, int64_t default_interval,
                               int64_t counts[FLEET__COUNT]);
    /* The device's row; its key as stored into stored (store.c opens it into out->key). */
    enum store_status (*device_trust)(struct store *s, const char *deviceid, struct device_trust *out, char *stored,
                                      size_t stored_len);
    enum store_status (*device_signed)(struct store *s, const char *deviceid, int64_t t, bool state_changing);

    /* Many devices' rows at once (store_devices_trust()), device i's key as stored into
     * stored + i * stored_len; NULL: one device_trust() each. */
    void (*devices_trust)(struct store *s, const char *const *ids, size_t n, struct device_trust *out,
                          char *stored, size_t stored_len, enum store_status *status);
    /* store_readings_add(): readings of different devices. */
    void (*readings_add)(struct store *s, const struct reading_new *r, size_t n, enum store_status *status);
    enum store_status (*reading_list)(struct store *s, const char *deviceid, const struct reading_filter *f,
                                      store_reading_fn fn, void *user_data);
    enum store_status (*reading_buckets)(struct store *s, const char *deviceid, int64_t since, int64_t until,
                                         int64_t bucket_seconds, store_bucket_fn fn, void *user_data);
    enum store_status (*reading_prune)(struct store *s, int64_t before, int max, int *deleted);
    enum store_status (*device_expire_pending)(struct store *s, int64_t before, int max, int *deleted);

    enum store_status (*firmware_add)(struct store *s, const struct firmware *fw, const void *image,
                                      store_firmware_fn fn, void *user_data);
    enum store_status (*firmware_get)(struct store *s, const char *version, store_firmware_fn fn,
                                      void *user_data);
    enum store_status (*firmware_list)(struct store *s, store_firmware_fn fn, void *user_data);
    enum store_status (*firmware_running)(struct store *s, int max, store_version_count_fn fn, void *user_data);
    enum store_status (*firmware_delete)(struct store *s, const char *version);
    enum store_status (*firmware_image)(struct store *s, const char *sha256, void **image, size_t *size);
    enum store_status (*device_firmware)(struct store *s, const char *deviceid, enum firmware_event event,
                                         const char *version, char status[FIRMWARE_STATUS_LEN]);
    enum store_status (*device_by_mac)(struct store *s, const char *mac12, struct ota_facts *facts, char *stored,
                                       size_t stored_len);
    /* FIRMWARE_DOWNLOAD_SQL's read alone (store.c checks the caller and writes the event); the
     * device's key as stored into stored. */
    enum store_status (*device_image)(struct store *s, const char *deviceid, const char *version, int64_t last,
                                      struct image_facts *facts, char *stored, size_t stored_len);

    enum store_status (*rollout_add)(struct store *s, const struct rollout *r, int64_t *id);
    enum store_status (*rollout_list)(struct store *s, int64_t id, const char *state, store_rollout_fn fn,
                                      void *user_data);
    enum store_status (*rollout_stages)(struct store *s, int64_t id, store_rollout_stage_fn fn, void *user_data);
    enum store_status (*rollout_state)(struct store *s, int64_t id, const char *from, int stage, const char *to,
                                       const char *reason, int64_t now);
    enum store_status (*rollout_start)(struct store *s, int64_t id, int stage, int64_t devices, int64_t now,
                                       int64_t *assigned);
    enum store_status (*rollout_timeouts)(struct store *s, int64_t id, int64_t now, int64_t *failed);

    enum store_status (*token_add)(struct store *s, const char *name,
                                   const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                   int64_t expires);
    /* The token's expiry and last use (0: none) and its name, or STORE_NOT_FOUND; store.c decides. */
    enum store_status (*token_check)(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                     int64_t *expires, int64_t *last_used, char name[STORE_TOKEN_NAME_MAX + 1]);
    /* Records the token as used at now, unless a later use is recorded. */
    enum store_status (*token_used)(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                    int64_t now);
    enum store_status (*token_list)(struct store *s, store_token_fn fn, void *user_data);
    enum store_status (*token_revoke)(struct store *s, const char *name);

    enum store_status (*write_begin)(struct store *s);
    enum store_status (*write_end)(struct store *s, bool commit);
    enum store_status (*device_lock)(struct store *s, const char *deviceid, store_device_fn fn, void *user_data);
    enum store_status (*audit_add)(struct store *s, const struct audit_entry *e);
    enum store_status (*audit_list)(struct store *s, const struct audit_filter *f, store_audit_fn fn,
                                    void *user_data, int *count);
    enum store_status (*audit_prune)(struct store *s, int64_t before, int max, int *deleted);
    enum store_status (*recently_offline)(struct store *s, int64_t now, int64_t default_interval, int max,
                                          store_device_fn fn, void *user_data);
    enum store_status (*reading_last_id)(struct store *s, int64_t *id);

    enum store_status (*alert_lead)(struct store *s);
    enum store_status (*alert_sweep)(struct store *s, int64_t now, int64_t default_interval, int max,
                                     int *judged);
    /* kind: alert_kind_name()'s. */
    enum store_status (*alert_enqueue)(struct store *s, const char *kind, const char *subject, int64_t at,
                                       const char *detail);
    enum store_status (*alert_due)(struct store *s, int64_t now, int max, store_alert_fn fn, void *user_data);
    enum store_status (*alert_done)(struct store *s, int64_t id, bool delivered);
    enum store_status (*alert_retry)(struct store *s, int64_t id, int64_t next_at);
    enum store_status (*alert_counts)(struct store *s, struct alert_counts *out);

    enum store_status (*device_bulk_add)(struct store *s, const char *prefix, int64_t first, int64_t count,
                                         const char *key, int64_t now);
    enum store_status (*reading_bulk_add)(struct store *s, const char *prefix, int64_t first, int64_t count,
                                          int64_t per_device, int64_t now, int64_t step,
                                          store_reading_text_fn fn, void *user_data);
};

/* Backends embed this first, zeroed. errmsg holds the reason of the last STORE_ERROR/
 * STORE_UNAVAILABLE; server_key is store_use_server_key()'s. */
struct store {
    const struct store_ops *ops;
    char errmsg[256];
    const struct server_key *server_key;
};

/* Each backend's open: the database named by target (a file path; a libpq connection URI),
 * migrated to this binary's schema; NULL with the reason in err. */
struct store *store_sqlite_open(const char *path, char *err, size_t err_len);
struct store *store_pg_open(const char *uri, char *err, size_t err_len);

/* The PostgreSQL backend is a module of its own, PG_MODULE_NAME (store_pg*.c linked with libpq),
 * which store_pg_open() loads at its first call and whose PG_MODULE_OPEN it then calls: programs
 * on SQLite never map libpq and the libraries it brings. */
#define PG_MODULE_NAME "provd-pg.so"
#define PG_MODULE_OPEN "store_pg_module_open"
typedef struct store *(*store_open_fn)(const char *target, char *err, size_t err_len);
struct store *store_pg_module_open(const char *uri, char *err, size_t err_len);

/* New registrations from one address are counted over this many seconds (struct registration). */
#define REGISTRATION_WINDOW_S 60
/* Whether reg's caps let a new device in, given the devices there are and those registered from
 * reg->from within the window: STORE_OK, STORE_FULL or STORE_TOO_MANY. (Inline: the PostgreSQL
 * module links nothing of the programs'.) */
static inline enum store_status store_registration_room(const struct registration *reg, int64_t devices,
                                                        int64_t recent)
{
    if (reg->max_devices > 0 && devices >= reg->max_devices)
        return STORE_FULL;
    if (reg->per_minute > 0 && reg->from && recent >= reg->per_minute)
        return STORE_TOO_MANY;
    return STORE_OK;
}

/* The firmware columns of a device (struct device), the last of each backend's: assigned, running,
 * status, then the assigned version's size, sha256 and md5 from its row (a primary-key lookup). */
#define FIRMWARE_OF(column) "(SELECT " column " FROM firmware WHERE version = fw_assigned)"
#define DEVICE_FIRMWARE_COLUMNS                                                                             \
    "fw_assigned, fw_running, fw_status, " FIRMWARE_OF("size") ", " FIRMWARE_OF("sha256") ", " FIRMWARE_OF("md5")

/* A device's firmware update status moves in SQL, the same text on both backends (each passes its
 * parameters, cast as it needs), so that two hosts writing at once cannot break it: each step
 * is one conditional UPDATE. ARCHITECTURE.md "Firmware updates" has the table of transitions.
 * An admin's assignment, SET clauses: set (boolean) says whether to assign, version the version
 * (NULL: none). A new version starts pending; the same one again keeps its status, but failed
 * starts over. */
#define FIRMWARE_ASSIGN_SQL(set, version)                                                                   \
    "fw_assigned = CASE WHEN " set " THEN " version " ELSE fw_assigned END, "                                \
    "fw_status = CASE WHEN NOT " set " THEN fw_status WHEN " version " IS NULL THEN 'none' "                 \
    "WHEN fw_assigned IS NOT DISTINCT FROM " version " AND fw_status <> 'failed' THEN fw_status "            \
    "ELSE 'pending' END, "                                                                                   \
    "fw_downloaded = CASE WHEN NOT " set " OR (fw_assigned IS NOT DISTINCT FROM " version " "                \
    "AND fw_status <> 'failed') THEN fw_downloaded ELSE false END "
/* store_firmware_running(): the versions devices last reported, most devices first, at most max. */
#define FIRMWARE_RUNNING_SQL(max)                                                                           \
    "SELECT fw_running, count(*) FROM devices WHERE fw_running IS NOT NULL "                                 \
    "GROUP BY fw_running ORDER BY count(*) DESC, fw_running LIMIT " max

/* An event of enum firmware_event (its number) for the device id, about version (the assigned one;
 * for FIRMWARE_REPORTED the one it runs): the running version, fw_downloaded and the status after
 * it. Only a change is written: a resumed or repeated download, or a poll repeating what it runs
 * while an update is under way, matches no row, as do an unknown device and another version
 * assigned. */
#define FIRMWARE_RUNNING_AFTER(event, version) "CASE WHEN " event " = 3 THEN " version " ELSE fw_running END"
#define FIRMWARE_DOWNLOADED_AFTER(event) "(fw_downloaded OR " event " = 2)"
#define FIRMWARE_STATUS_AFTER(event, version)                                                               \
    "CASE "                                                                                                  \
    "WHEN " event " = 0 THEN CASE WHEN fw_status = 'pending' THEN 'offered' ELSE fw_status END "             \
    "WHEN " event " IN (1, 2) THEN "                                                                         \
    "CASE WHEN fw_status IN ('pending', 'offered') THEN 'downloading' ELSE fw_status END "                   \
    "WHEN fw_assigned IS NULL THEN 'none' "                                                                  \
    "WHEN fw_assigned = " version " THEN 'installed' "                                                       \
    "WHEN fw_status = 'installed' OR (fw_status = 'downloading' AND fw_downloaded) THEN 'failed' "           \
    "ELSE fw_status END"
/* Whether the event changes the row: its running version, fw_downloaded or its status. */
#define FIRMWARE_EVENT_CHANGES(event, version)                                                              \
    "(fw_running IS DISTINCT FROM " FIRMWARE_RUNNING_AFTER(event, version) " "                               \
    "OR fw_downloaded <> " FIRMWARE_DOWNLOADED_AFTER(event) " "                                              \
    "OR fw_status <> " FIRMWARE_STATUS_AFTER(event, version) ")"
#define FIRMWARE_EVENT_SQL(id, event, version)                                                              \
    "UPDATE devices SET fw_running = " FIRMWARE_RUNNING_AFTER(event, version) ", "                           \
    "fw_downloaded = " FIRMWARE_DOWNLOADED_AFTER(event) ", fw_status = " FIRMWARE_STATUS_AFTER(event, version) \
    " WHERE deviceid = " id " AND (" event " = 3 OR fw_assigned = " version ") "                             \
    "AND " FIRMWARE_EVENT_CHANGES(event, version) " RETURNING fw_status"
_Static_assert(FIRMWARE_OFFERED == 0 && FIRMWARE_FETCHED == 1 && FIRMWARE_FETCHED_ALL == 2 &&
                   FIRMWARE_REPORTED == 3,
               "FIRMWARE_EVENT_SQL's numbers");
/* What a device call is checked against (struct device_trust), four columns: each backend reads
 * them with its column_trust()/read_trust(). */
#define TRUST_COLUMNS      "state, coalesce(key, ''), trust, seqn_epoch"
#define TRUST_COLUMN_COUNT 4
/* A device's struct assigned_image, four columns (each backend's column_image()/read_image()), from
 * ASSIGNED_IMAGE_FROM: its assigned version ('' for none) and that version's size, sha256, md5. */
#define ASSIGNED_IMAGE_COLUMNS                                                                              \
    "coalesce(fw_assigned, ''), coalesce(image.size, 0), coalesce(image.sha256, ''), coalesce(image.md5, '')"
#define ASSIGNED_IMAGE_COLUMN_COUNT 4
#define ASSIGNED_IMAGE_FROM         "devices LEFT JOIN firmware image ON image.version = fw_assigned"
/* store_device_image()'s read, one statement: the device id's TRUST_COLUMNS, then its
 * ASSIGNED_IMAGE_COLUMNS,
 * the download's event (FIRMWARE_FETCHED_ALL when the byte last reaches the image's end, else
 * FIRMWARE_FETCHED) and whether it would change the row: the device not rejected, version the
 * one assigned, and FIRMWARE_EVENT_CHANGES. No row: no such device. */
#define FIRMWARE_FETCH_EVENT(last) "(CASE WHEN " last " >= image.size - 1 THEN 2 ELSE 1 END)"
#define FIRMWARE_DOWNLOAD_SQL(id, version, last)                                                            \
    "SELECT " TRUST_COLUMNS ", " ASSIGNED_IMAGE_COLUMNS ", " FIRMWARE_FETCH_EVENT(last) ", "                         \
    "coalesce(state <> 'rejected' AND fw_assigned = " version " AND "                                        \
    FIRMWARE_EVENT_CHANGES(FIRMWARE_FETCH_EVENT(last), version) ", false) "                                  \
    "FROM " ASSIGNED_IMAGE_FROM " WHERE deviceid = " id
/* Its columns after the TRUST_COLUMNS (from 0). */
enum { IMAGE_ASSIGNED = TRUST_COLUMN_COUNT, IMAGE_EVENT = IMAGE_ASSIGNED + ASSIGNED_IMAGE_COLUMN_COUNT, IMAGE_CHANGES };

/* store_device_by_mac()'s read, one statement: the device's id, its TRUST_COLUMNS, its
 * ASSIGNED_IMAGE_COLUMNS, the version it last reported ('' for none) and its update status. */
#define DEVICE_BY_MAC_SQL(mac12)                                                                            \
    "SELECT deviceid, " TRUST_COLUMNS ", " ASSIGNED_IMAGE_COLUMNS ", coalesce(fw_running, ''), fw_status "  \
    "FROM " ASSIGNED_IMAGE_FROM " WHERE upper(replace(deviceid, ':', '')) = " mac12 " ORDER BY deviceid LIMIT 1"
/* Its columns after the id (0) and the TRUST_COLUMNS (from 1). */
enum { OTA_ASSIGNED = 1 + TRUST_COLUMN_COUNT, OTA_RUNNING = OTA_ASSIGNED + ASSIGNED_IMAGE_COLUMN_COUNT, OTA_STATUS };

/* Staged rollouts (ARCHITECTURE.md "Rollouts"): statements both backends share, written with P
 * the parameter prefix ("?" for SQLite, "$" for PostgreSQL: both then number them), and key the
 * column rollout_devices.device and device_tags.device hold (SQLite: devices.id; PostgreSQL:
 * devices.deviceid). */
#define ROLLOUT_COLUMNS                                                                                      \
    "id, firmware, tag, stages, success_threshold, failure_threshold, timeout, state, stage, reason, "      \
    "created, updated"
#define ROLLOUT_ADD_SQL(P)                                                                                   \
    "INSERT INTO rollouts (firmware, tag, stages, success_threshold, failure_threshold, timeout, created, "  \
    "updated) VALUES (" P "1, " P "2, " P "3, " P "4, " P "5, " P "6, " P "7, " P "7) "                     \
    "ON CONFLICT DO NOTHING RETURNING id"
#define ROLLOUT_LIST_SQL(P)                                                                                  \
    "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE (" P "1 = 0 OR id = " P "1) "                           \
    "AND (CAST(" P "2 AS TEXT) IS NULL OR state = " P "2) ORDER BY id DESC LIMIT 1000"
/* The conditional move of store_rollout_state(); returns the new state. */
#define ROLLOUT_STATE_SQL(P)                                                                                 \
    "UPDATE rollouts SET state = " P "4, reason = " P "5, updated = " P "6 WHERE id = " P "1 "              \
    "AND (state = " P "2 OR (CAST(" P "2 AS TEXT) IS NULL AND state IN ('running', 'paused'))) "           \
    "AND (" P "3 < 0 OR stage = " P "3) RETURNING state"
/* The claim of store_rollout_start(): one evaluator moves it from stage P2. */
#define ROLLOUT_CLAIM_SQL(P)                                                                                 \
    "UPDATE rollouts SET stage = stage + 1, updated = " P "3 WHERE id = " P "1 AND state = 'running' "      \
    "AND stage = " P "2 RETURNING id, firmware, tag, stage"
/* The counts of each stage (store_rollout_stages()), rollout P1. */
#define ROLLOUT_STAGES_SQL(P, key)                                                                           \
    "SELECT r.stage, count(*), count(*) FILTER (WHERE d.fw_status = 'pending'), "                            \
    "count(*) FILTER (WHERE d.fw_status IN ('offered', 'downloading')), "                                    \
    "count(*) FILTER (WHERE d.fw_status = 'installed'), count(*) FILTER (WHERE d.fw_status = 'failed') "     \
    "FROM rollout_devices r JOIN rollouts o ON o.id = r.rollout "                                           \
    "LEFT JOIN devices d ON d." key " = r.device AND d.fw_assigned = o.firmware "                           \
    "WHERE r.rollout = " P "1 GROUP BY r.stage ORDER BY r.stage"
/* Timeouts of rollout P1 at P2 (store_rollout_timeouts()): first when each device of it was
 * seen downloaded, then those still downloading timeout seconds later fail. */
#define ROLLOUT_OF(P, column) "(SELECT " column " FROM rollouts WHERE id = " P "1)"
#define ROLLOUT_DOWNLOADED_SQL(P, key)                                                                       \
    "UPDATE rollout_devices SET downloaded = " P "2 WHERE rollout = " P "1 AND downloaded IS NULL "         \
    "AND device IN (SELECT " key " FROM devices WHERE fw_assigned = " ROLLOUT_OF(P, "firmware")             \
    " AND fw_downloaded)"
#define ROLLOUT_TIMEOUT_SQL(P, key)                                                                          \
    "UPDATE devices SET fw_status = 'failed' WHERE fw_assigned = " ROLLOUT_OF(P, "firmware")                \
    " AND fw_status = 'downloading' AND fw_downloaded AND " key " IN (SELECT device FROM rollout_devices "   \
    "WHERE rollout = " P "1 AND downloaded < " P "2 - " ROLLOUT_OF(P, "timeout") ")"
/* A version may be deleted only while no active rollout will assign it (firmware deletion). */
#define FIRMWARE_NOT_ROLLING_OUT(version)                                                                    \
    "AND NOT EXISTS (SELECT 1 FROM rollouts WHERE firmware = " version " AND state IN ('running', 'paused'))"
/* A cancelled rollout's devices not yet offered lose their assignment. */
#define ROLLOUT_UNASSIGN_SQL(P, key, version)                                                                \
    "UPDATE devices SET " FIRMWARE_ASSIGN_SQL("true", "NULL") " WHERE fw_assigned = " version               \
    " AND fw_status = 'pending' AND " key " IN (SELECT device FROM rollout_devices WHERE rollout = " P "1)"
/* A rollout's new stage's devices get its version, as an admin's assignment would. */
#define ROLLOUT_ASSIGN_SQL(key, version, members)                                                            \
    "UPDATE devices SET " FIRMWARE_ASSIGN_SQL("true", version) " WHERE " key " IN (" members ")"

/* A version's stored bytes compared with an upload's (store_firmware_add()): a store_firmware_fn
 * that sets same, and hands the stored version to fn when they are the same. */
struct firmware_same {
    const char *sha256;
    bool same;
    store_firmware_fn fn;
    void *user_data;
};
static inline void firmware_compare(const struct firmware *fw, void *data)
{
    struct firmware_same *c = data;
    c->same = strcmp(fw->sha256, c->sha256) == 0;
    if (c->same && c->fn)
        c->fn(fw, c->user_data);
}

/* A bulk statement's first parameter (store_device_bulk()): the tag, the property, or the state
 * approved devices get. */
static inline const char *bulk_text(const struct device_bulk *b)
{
    return b->action == DEVICE_BULK_SET ? b->key : b->action == DEVICE_BULK_APPROVE ? "accepted" : b->tag;
}

/* The id of bulk device n (store.h): false when it would be longer than a device id may be. */
bool store_bulk_id(const char *prefix, int64_t n, char *buf, size_t len);

#endif
