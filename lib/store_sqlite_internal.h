/* What the files of the SQLite backend (store_sqlite*.c) share: the connection's struct, the
 * statements' ids and texts, and the helpers that bind, step and wrap them in transactions. */
#ifndef PROVD_STORE_SQLITE_INTERNAL_H
#define PROVD_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store_backend.h"
#include "store_sqlite.h"

#define CACHE_KIB "256" /* per connection: the B-tree tops of a million devices fit */

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
    STMT_DEVICE_POLL_TRUST,
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
    STMT_DEVICE_IMAGE,
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

/* Each statement's SQL, by its id (store_sqlite_sql.c). */
extern const char *const stmt_sql[STMT__COUNT];

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

/* The helpers (store_sqlite.c), each with its contract at its definition. */
struct sqlite_store *sqlite_of(struct store *base);
/* STORE_ERROR, with what and SQLite's message in the store's errmsg. */
enum store_status fail(struct sqlite_store *s, const char *what);
/* Statement id, prepared at its first use, ready for binding. */
sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt id);
/* Resets a statement and clears its bindings. */
void stmt_done(sqlite3_stmt *st);
/* Binds text v (NULL: SQL NULL), borrowed until the statement is reset. */
void bind_text(sqlite3_stmt *st, int i, const char *v);
/* Runs a statement that returns no rows. */
enum store_status exec_stmt(struct sqlite_store *s, enum stmt id);
/* An operation's transaction (a savepoint inside a batch). */
enum store_status begin(struct sqlite_store *s);
/* Undoes the operation's transaction (or savepoint). */
void roll_back(struct sqlite_store *s);
/* Ends an operation's transaction: commits on success, rolls back otherwise; passes st on. */
enum store_status finish(struct sqlite_store *s, enum store_status st);
/* A text column, "" for NULL. */
const char *column_text(sqlite3_stmt *st, int i);
/* An integer column, if_null for NULL. */
int64_t column_int_or(sqlite3_stmt *st, int i, int64_t if_null);
/* Runs a statement returning one row of integers into out[0..n). */
enum store_status read_counts(struct sqlite_store *s, enum stmt id, int64_t *out, int n);
/* Runs a write of at most one row; STORE_NOT_FOUND when no row changed. */
enum store_status write_one_row(struct sqlite_store *s, enum stmt id);
/* Runs a delete of up to ?2 rows older than ?1; *deleted says how many went. */
enum store_status delete_batch(struct sqlite_store *s, enum stmt id, int64_t before, int max, int *deleted,
                               const char *what);

/* Device rows (store_sqlite_devices.c): steps statement id, handing each device to fn. */
enum store_status device_rows(struct sqlite_store *s, enum stmt id, store_device_fn fn, void *user_data,
                              int *count, int64_t *row);
/* The TRUST_COLUMNS of st's row from column col on (store_sqlite_devices.c): the trust into *out,
 * the key as stored into stored. */
void column_trust(sqlite3_stmt *st, int col, struct device_trust *out, char *stored, size_t stored_len);

/* The backend's operations, in its table sqlite_ops (store_sqlite.c): each has the contract of the
 * store.h call of the same name. */
/* store_sqlite_devices.c: devices and readings. */
enum store_status sqlite_device_register(struct store *base, const char *deviceid, const char *ipaddr,
                                         const char *ssid, const char *location,
                                         const struct registration *reg, int64_t now, store_device_fn fn,
                                         void *user_data);
enum store_status sqlite_device_heartbeat(struct store *base, const char *deviceid, enum store_caller caller,
                                          int64_t now, struct poll_facts *facts, char *stored,
                                          size_t stored_len);
enum store_status sqlite_heartbeat_seen(struct store *base, const char *deviceid, int64_t row, int64_t now);
enum store_status sqlite_device_poll(struct store *base, const char *deviceid, enum store_caller caller,
                                     int64_t applied, int64_t now, store_device_fn fn, void *user_data);
enum store_status sqlite_device_get(struct store *base, const char *deviceid, store_device_fn fn,
                                    void *user_data);
enum store_status sqlite_device_update(struct store *base, const char *deviceid,
                                       const struct device_update *update, int64_t now, store_device_fn fn,
                                       void *user_data);
enum store_status sqlite_device_delete(struct store *base, const char *deviceid);
enum store_status sqlite_device_keys_plain(struct store *base, int max, store_key_fn fn, void *user_data);
enum store_status sqlite_device_key_replace(struct store *base, const char *deviceid, const char *old,
                                            const char *key);
enum store_status sqlite_device_set_key(struct store *base, const char *deviceid, const char *key);
enum store_status sqlite_device_count(struct store *base, const struct device_filter *f, int64_t *count);
enum store_status sqlite_device_bulk(struct store *base, const struct device_filter *f,
                                     const struct device_bulk *b, int64_t *affected);
enum store_status sqlite_device_list(struct store *base, const struct device_filter *f, store_device_fn fn,
                                     void *user_data, int *count);
enum store_status sqlite_reading_count(struct store *base, int64_t *count);
enum store_status sqlite_fleet(struct store *base, int64_t now, int64_t default_interval,
                               int64_t counts[FLEET__COUNT]);
enum store_status sqlite_device_trust(struct store *base, const char *deviceid, struct device_trust *out,
                                      char *stored, size_t stored_len);
enum store_status sqlite_device_signed(struct store *base, const char *deviceid, int64_t t,
                                       bool state_changing);
void sqlite_readings_add(struct store *base, const struct reading_new *r, size_t n, enum store_status *status);
enum store_status sqlite_reading_list(struct store *base, const char *deviceid,
                                      const struct reading_filter *f, store_reading_fn fn, void *user_data);
enum store_status sqlite_reading_buckets(struct store *base, const char *deviceid, int64_t since,
                                         int64_t until, int64_t bucket_seconds, store_bucket_fn fn,
                                         void *user_data);
enum store_status sqlite_device_expire_pending(struct store *base, int64_t before, int max, int *deleted);
enum store_status sqlite_reading_prune(struct store *base, int64_t before, int max, int *deleted);
enum store_status sqlite_device_lock(struct store *base, const char *deviceid, store_device_fn fn,
                                     void *user_data);
enum store_status sqlite_device_bulk_add(struct store *base, const char *prefix, int64_t first, int64_t count,
                                         const char *key, int64_t now);
enum store_status sqlite_reading_bulk_add(struct store *base, const char *prefix, int64_t first,
                                          int64_t count, int64_t per_device, int64_t now, int64_t step,
                                          store_reading_text_fn fn, void *user_data);
/* store_sqlite_firmware.c: firmware and rollouts. */
enum store_status sqlite_firmware_get(struct store *base, const char *version, store_firmware_fn fn,
                                      void *user_data);
enum store_status sqlite_firmware_running(struct store *base, int max, store_version_count_fn fn,
                                          void *user_data);
enum store_status sqlite_firmware_list(struct store *base, store_firmware_fn fn, void *user_data);
enum store_status sqlite_firmware_add(struct store *base, const struct firmware *fw, const void *image,
                                      store_firmware_fn fn, void *user_data);
enum store_status sqlite_firmware_delete(struct store *base, const char *version);
enum store_status sqlite_firmware_image(struct store *base, const char *sha256, void **image, size_t *size);
enum store_status sqlite_device_firmware(struct store *base, const char *deviceid, enum firmware_event event,
                                         const char *version, char status[FIRMWARE_STATUS_LEN]);
enum store_status sqlite_device_image(struct store *base, const char *deviceid, const char *version, int64_t last,
                                      struct image_facts *facts, char *stored, size_t stored_len);
enum store_status sqlite_device_by_mac(struct store *base, const char *mac12, struct ota_facts *facts, char *stored,
                                       size_t stored_len);
enum store_status sqlite_rollout_add(struct store *base, const struct rollout *r, int64_t *id);
enum store_status sqlite_rollout_list(struct store *base, int64_t id, const char *state, store_rollout_fn fn,
                                      void *user_data);
enum store_status sqlite_rollout_stages(struct store *base, int64_t id, store_rollout_stage_fn fn,
                                        void *user_data);
enum store_status sqlite_rollout_state(struct store *base, int64_t id, const char *from, int stage,
                                       const char *to, const char *reason, int64_t now);
enum store_status sqlite_rollout_start(struct store *base, int64_t id, int stage, int64_t devices,
                                       int64_t now, int64_t *assigned);
enum store_status sqlite_rollout_timeouts(struct store *base, int64_t id, int64_t now, int64_t *failed);
/* store_sqlite_admin.c: tokens, the audit trail, the overview and alerts. */
enum store_status sqlite_token_add(struct store *base, const char *name,
                                   const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                   int64_t expires);
enum store_status sqlite_token_check(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                     int64_t *expires, int64_t *last_used,
                                     char name[STORE_TOKEN_NAME_MAX + 1]);
enum store_status sqlite_token_used(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                    int64_t now);
enum store_status sqlite_token_list(struct store *base, store_token_fn fn, void *user_data);
enum store_status sqlite_token_revoke(struct store *base, const char *name);
enum store_status sqlite_audit_add(struct store *base, const struct audit_entry *e);
enum store_status sqlite_audit_list(struct store *base, const struct audit_filter *f, store_audit_fn fn,
                                    void *user_data, int *count);
enum store_status sqlite_audit_prune(struct store *base, int64_t before, int max, int *deleted);
enum store_status sqlite_recently_offline(struct store *base, int64_t now, int64_t default_interval, int max,
                                          store_device_fn fn, void *user_data);
enum store_status sqlite_reading_last_id(struct store *base, int64_t *id);
enum store_status sqlite_alert_lead(struct store *base);
enum store_status sqlite_alert_sweep(struct store *base, int64_t now, int64_t default_interval, int max,
                                     int *judged);
enum store_status sqlite_alert_enqueue(struct store *base, const char *kind, const char *subject, int64_t at,
                                       const char *detail);
enum store_status sqlite_alert_due(struct store *base, int64_t now, int max, store_alert_fn fn,
                                   void *user_data);
enum store_status sqlite_alert_done(struct store *base, int64_t id, bool delivered);
enum store_status sqlite_alert_retry(struct store *base, int64_t id, int64_t next_at);
enum store_status sqlite_alert_counts(struct store *base, struct alert_counts *out);

#endif
