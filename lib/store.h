/* Storage: the only module that talks to SQLite (provd workers and provctl both use it).
 * Every statement is prepared once per connection from a table and bound with parameters. */
#ifndef PROVD_STORE_H
#define PROVD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_status {
    STORE_OK = 0,
    STORE_CREATED,   /* a new row was made */
    STORE_NOT_FOUND,
    STORE_EXISTS,    /* the name is taken */
    STORE_REFUSED,   /* the registration policy refuses a new device */
    STORE_STALE,     /* If-Match named a cfgsn that is no longer current */
    STORE_ERROR,     /* the database failed: store_errmsg() says how */
};

enum registration_policy { REGISTRATION_APPROVE, REGISTRATION_OPEN, REGISTRATION_CLOSED };

struct store;

/* A device row. Strings are borrowed from the database row: valid only inside the callback. */
struct device {
    const char *deviceid, *name, *state, *ssid, *ipaddr;
    const char *data;        /* configuration properties, JSON text */
    int64_t lastseen;        /* 0: never seen */
    int64_t cfgsn;
    int64_t cfgsn_applied;   /* -1: the device never said */
    int64_t flags;
    int64_t poll_interval;   /* 0: the server's default */
    int64_t datec;
    int64_t last_seqn;       /* -1: no telemetry accepted yet */
    bool has_key;
};
typedef void (*store_device_fn)(const struct device *device, void *user_data);

/* An admin's change to a device; absent parts stay as they are. */
struct device_update {
    const char *name;           /* NULL: unchanged */
    const char *data;           /* canonical JSON text; NULL: unchanged */
    const char *state;          /* NULL: unchanged */
    bool set_poll_interval;
    int64_t poll_interval;      /* with set_poll_interval; 0: back to the default */
    int64_t cfgsn;              /* an explicit cfgsn the client sent; -1: none */
    int64_t if_match;           /* the cfgsn the client last saw; -1: no precondition */
};

struct device_filter {
    const char *after;          /* keyset cursor: ids greater than this; NULL: from the start */
    const char *state;          /* NULL: any */
    int online;                 /* -1: any, 0: not online, 1: online */
    const char *q;              /* substring of id or name, case-insensitive; NULL: any */
    int limit;
    int64_t now;
    int64_t default_interval;
};

struct store_stats {
    int64_t devices, online, pending, readings;
};

#define STORE_TOKEN_HASH_LEN 32  /* SHA-256 */

typedef void (*store_token_fn)(const char *name, int64_t created, void *user_data);

/* Opens (creating if absent) and migrates the database; err gets the reason on failure. */
struct store *store_open(const char *path, char *err, size_t err_len);
void store_free(struct store *s);
const char *store_errmsg(const struct store *s);
/* The seconds since the epoch a device is online within: 2 intervals + 10 s. */
int64_t store_online_window(int64_t poll_interval);

enum store_status store_ping(struct store *s);

enum store_status store_device_register(struct store *s, const char *deviceid, const char *ipaddr,
                                        const char *ssid, enum registration_policy policy, int64_t now,
                                        store_device_fn fn, void *user_data);
/* A heartbeat: sets lastseen (and cfgsn_applied when applied >= 0), then hands over the device. */
enum store_status store_device_poll(struct store *s, const char *deviceid, int64_t applied, int64_t now,
                                    store_device_fn fn, void *user_data);
enum store_status store_device_get(struct store *s, const char *deviceid, store_device_fn fn,
                                   void *user_data);
/* Creates the device (accepted) when it does not exist: STORE_CREATED. */
enum store_status store_device_update(struct store *s, const char *deviceid,
                                      const struct device_update *update, int64_t now,
                                      store_device_fn fn, void *user_data);
enum store_status store_device_delete(struct store *s, const char *deviceid);
enum store_status store_device_set_key(struct store *s, const char *deviceid, const char *key);
/* Calls fn for each device of the page; *count gets how many. */
enum store_status store_device_list(struct store *s, const struct device_filter *filter,
                                    store_device_fn fn, void *user_data, int *count);
enum store_status store_stats(struct store *s, int64_t now, int64_t default_interval,
                              struct store_stats *out);

enum store_status store_token_add(struct store *s, const char *name,
                                  const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now);
enum store_status store_token_check(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_LEN]);
enum store_status store_token_list(struct store *s, store_token_fn fn, void *user_data);
enum store_status store_token_revoke(struct store *s, const char *name);

#endif
