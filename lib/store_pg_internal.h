/* What the files of the PostgreSQL backend (store_pg*.c, built as provd-pg.so) share: the store,
 * its statements and the helpers that run them. Nothing outside the module includes it. */
#ifndef PROVD_STORE_PG_INTERNAL_H
#define PROVD_STORE_PG_INTERNAL_H

#include <libpq-fe.h>

#include "store_backend.h"

/* Everything declared below stays inside the module: only store_pg_module_open() is its interface. */
#pragma GCC visibility push(hidden)

#define MAX_PARAMS          14
#define SEEN_MAX            512 /* heartbeat times kept back at most (struct seen_times) */
#define SEEN_ID_MAX         64  /* longest device id (validate.h's DEVICE_ID_MAX) */
#define DEVICE_COLUMN_COUNT 23  /* the columns of DEVICE_COLUMNS (store_pg_sql.c) */

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
    PG_DEVICES_TRUST,
    PG_DEVICE_SIGNED,
    PG_READINGS_ADD,
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
    PG_DEVICE_IMAGE,
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

/* The text of each statement (store_pg_sql.c). */
extern const char *const pg_stmt_sql[PG__COUNT];

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

static inline struct pg_store *pg_of(struct store *base)
{
    return (struct pg_store *)base;
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

/* ---- the statements runner (store_pg_run.c) ---- */

/* Copies the first line of msg into dst. */
void first_line(char *dst, size_t len, const char *msg);
/* Sets the store's message for a failure of what; STORE_ERROR or STORE_UNAVAILABLE. */
enum store_status fail(struct pg_store *s, const char *what, const PGresult *res);
void param_text(struct params *p, const char *v);
void param_int(struct params *p, int64_t v);
void param_int_or_null(struct params *p, bool has, int64_t v);
void param_bool(struct params *p, bool v);
void param_bytes(struct params *p, const void *v, size_t len);
/* The name statement id is prepared under, in buf. */
const char *stmt_name(enum pg_stmt id, char *buf, size_t len);
/* Prepares statement id on this connection if it is not yet, reconnecting first when it was lost. */
enum store_status prepare(struct pg_store *s, enum pg_stmt id);
/* Runs statement id: its result (the caller PQclear()s it), or NULL with *st saying why. */
PGresult *run(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
              enum store_status *st);
/* Runs a statement whose rows the caller does not read; *rows (when not NULL) gets their count. */
enum store_status exec_stmt(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                            int64_t *rows);
/* A write of at most one row: STORE_NOT_FOUND when none changed. */
enum store_status write_one_row(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                const char *what);
/* A delete of up to max rows older than before; *deleted says how many went. */
enum store_status delete_batch(struct pg_store *s, enum pg_stmt id, int64_t before, int max, int *deleted,
                               const char *what);
/* Column col of row as an integer, if_null when NULL. */
int64_t col_int(const PGresult *res, int row, int col, int64_t if_null);
/* The TRUST_COLUMNS of res's row from column col on. */
void read_trust(const PGresult *res, int row, int col, struct device_trust *out, char *stored, size_t stored_len);
/* Hands each device row of res to fn; returns how many there were. */
int hand_devices(const PGresult *res, store_device_fn fn, void *user_data, const int64_t *seen_now);
/* Runs a statement returning device rows and hands them over: STORE_NOT_FOUND for none. */
enum store_status device_rows(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                              store_device_fn fn, void *user_data, const int64_t *seen_now, int *count);
/* Reads one row of integers into out[0..n); STORE_NOT_FOUND when there is no row. */
enum store_status read_ints(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                            int64_t *out, int n);
/* Copies the first column of a statement's one row into out: STORE_NOT_FOUND when there is no row. */
enum store_status read_text(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                            char *out, size_t out_len);
/* Opens a transaction of ours (begin: PG_BEGIN or PG_BEGIN_READ). */
enum store_status begin_transaction(struct pg_store *s, enum pg_stmt begin, const char *what);
/* begin_transaction(), or inside an admin's change joining it. */
enum store_status join_or_begin(struct pg_store *s, const char *what);
/* Commits, or rolls back what is open. */
enum store_status finish_transaction(struct pg_store *s, bool commit, const char *what);
/* Commits when st is STORE_OK, else rolls back; passes st (or the commit's failure) on. */
enum store_status end_transaction(struct pg_store *s, enum store_status st, const char *what);

/* ---- the operations of the other files, for pg_ops (store_pg.c) ---- */

/* API tokens, admin changes, the audit trail and the overview (store_pg_admin.c) */
enum store_status pg_token_add(struct store *base, const char *name,
                               const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now, int64_t expires);
enum store_status pg_token_check(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                 int64_t *expires, int64_t *last_used, char name[STORE_TOKEN_NAME_MAX + 1]);
enum store_status pg_token_used(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                int64_t now);
enum store_status pg_token_list(struct store *base, store_token_fn fn, void *user_data);
enum store_status pg_token_revoke(struct store *base, const char *name);
enum store_status pg_write_begin(struct store *base);
enum store_status pg_write_end(struct store *base, bool commit);
enum store_status pg_device_lock(struct store *base, const char *deviceid, store_device_fn fn,
                                 void *user_data);
enum store_status pg_audit_add(struct store *base, const struct audit_entry *e);
enum store_status pg_audit_list(struct store *base, const struct audit_filter *f, store_audit_fn fn,
                                void *user_data, int *count);
enum store_status pg_audit_prune(struct store *base, int64_t before, int max, int *deleted);
enum store_status pg_recently_offline(struct store *base, int64_t now, int64_t default_interval, int max,
                                      store_device_fn fn, void *user_data);
enum store_status pg_reading_last_id(struct store *base, int64_t *id);

/* Alerts (store_pg_alerts.c) */
enum store_status pg_alert_lead(struct store *base);
enum store_status pg_alert_sweep(struct store *base, int64_t now, int64_t default_interval, int max,
                                 int *judged);
enum store_status pg_alert_enqueue(struct store *base, const char *kind, const char *subject, int64_t at,
                                   const char *detail);
enum store_status pg_alert_due(struct store *base, int64_t now, int max, store_alert_fn fn, void *user_data);
enum store_status pg_alert_done(struct store *base, int64_t id, bool delivered);
enum store_status pg_alert_retry(struct store *base, int64_t id, int64_t next_at);
enum store_status pg_alert_counts(struct store *base, struct alert_counts *out);

/* Bulk loading (store_pg_bulk.c) */
enum store_status pg_device_bulk_add(struct store *base, const char *prefix, int64_t first, int64_t count,
                                     const char *key, int64_t now);
enum store_status pg_reading_bulk_add(struct store *base, const char *prefix, int64_t first, int64_t count,
                                      int64_t per_device, int64_t now, int64_t step, store_reading_text_fn fn,
                                      void *user_data);

/* Firmware and staged rollouts (store_pg_firmware.c) */
enum store_status pg_firmware_running(struct store *base, int max, store_version_count_fn fn,
                                      void *user_data);
enum store_status pg_firmware_get(struct store *base, const char *version, store_firmware_fn fn,
                                  void *user_data);
enum store_status pg_firmware_list(struct store *base, store_firmware_fn fn, void *user_data);
enum store_status pg_firmware_add(struct store *base, const struct firmware *fw, const void *image,
                                  store_firmware_fn fn, void *user_data);
enum store_status pg_firmware_delete(struct store *base, const char *version);
enum store_status pg_firmware_image(struct store *base, const char *sha256, void **image, size_t *size);
enum store_status pg_device_firmware(struct store *base, const char *deviceid, enum firmware_event event,
                                     const char *version, char status[FIRMWARE_STATUS_LEN]);
enum store_status pg_device_by_mac(struct store *base, const char *mac12, struct ota_facts *facts, char *stored,
                                   size_t stored_len);
enum store_status pg_device_image(struct store *base, const char *deviceid, const char *version, int64_t last,
                                  struct image_facts *facts, char *stored, size_t stored_len);
enum store_status pg_rollout_add(struct store *base, const struct rollout *r, int64_t *id);
enum store_status pg_rollout_list(struct store *base, int64_t id, const char *state, store_rollout_fn fn,
                                  void *user_data);
enum store_status pg_rollout_stages(struct store *base, int64_t id, store_rollout_stage_fn fn,
                                    void *user_data);
enum store_status pg_rollout_state(struct store *base, int64_t id, const char *from, int stage,
                                   const char *to, const char *reason, int64_t now);
enum store_status pg_rollout_start(struct store *base, int64_t id, int stage, int64_t devices, int64_t now,
                                   int64_t *assigned);
enum store_status pg_rollout_timeouts(struct store *base, int64_t id, int64_t now, int64_t *failed);

#pragma GCC visibility pop

#endif
