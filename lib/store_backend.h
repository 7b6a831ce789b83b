/* What a storage backend provides behind store.h: one table of operations per backend file
 * (store_sqlite.c, store_pg.c), each with the contract of the store.h function of the same name.
 * Only lib/store*.c include this. */
#ifndef PROVD_STORE_BACKEND_H
#define PROVD_STORE_BACKEND_H

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
    enum store_status (*backup)(struct store *s, const char *path, store_progress_fn fn, void *user_data);
    enum store_status (*restore)(struct store *s, const char *path, store_progress_fn fn, void *user_data);

    enum store_status (*device_register)(struct store *s, const char *deviceid, const char *ipaddr,
                                         const char *ssid, const char *location,
                                         const struct registration *reg, int64_t now,
                                         store_device_fn fn, void *user_data);
    enum store_status (*device_heartbeat)(struct store *s, const char *deviceid, int64_t now,
                                          struct poll_facts *facts);
    enum store_status (*device_poll)(struct store *s, const char *deviceid, int64_t applied, int64_t now,
                                     store_device_fn fn, void *user_data);
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
    enum store_status (*stats)(struct store *s, int64_t now, int64_t default_interval,
                               struct store_stats *out);
    enum store_status (*fleet)(struct store *s, int64_t now, int64_t default_interval,
                               int64_t counts[FLEET__COUNT]);
    /* The device's row; its key as stored into stored (store.c opens it into out->key). */
    enum store_status (*device_trust)(struct store *s, const char *deviceid, struct device_trust *out, char *stored,
                                      size_t stored_len);
    enum store_status (*device_signed)(struct store *s, const char *deviceid, int64_t t, bool state_changing);

    enum store_status (*reading_add)(struct store *s, const char *deviceid, int64_t seqn, int64_t received_at,
                                     int64_t ts, const char *reading, size_t reading_len, int64_t epoch,
                                     int64_t envelope);
    enum store_status (*reading_list)(struct store *s, const char *deviceid, const struct reading_filter *f,
                                      store_reading_fn fn, void *user_data);
    enum store_status (*reading_buckets)(struct store *s, const char *deviceid, int64_t since, int64_t until,
                                         int64_t bucket_seconds, store_bucket_fn fn, void *user_data);
    enum store_status (*reading_prune)(struct store *s, int64_t before, int max, int *deleted);
    enum store_status (*device_expire_pending)(struct store *s, int64_t before, int max, int *deleted);

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

/* The PostgreSQL backend is a module of its own, PG_MODULE_NAME (store_pg.c linked with libpq),
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

/* A bulk statement's first parameter (store_device_bulk()): the tag, the property, or the state
 * approved devices get. */
static inline const char *bulk_text(const struct device_bulk *b)
{
    return b->action == DEVICE_BULK_SET ? b->key : b->action == DEVICE_BULK_APPROVE ? "accepted" : b->tag;
}

/* The id of bulk device n (store.h): false when it would be longer than a device id may be. */
bool store_bulk_id(const char *prefix, int64_t n, char *buf, size_t len);

#endif
