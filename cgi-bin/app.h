/* What every handler is given: the worker's configuration, its database connection and clock. */
#ifndef PROVD_APP_H
#define PROVD_APP_H

#include <stdint.h>
#include <time.h>

#include "audit.h"
#include "http.h"
#include "overview.h"
#include "store.h"

/* PROVD_DEVICE_AUTH: which device calls must carry a proof (ARCHITECTURE.md "Device trust"). */
enum device_auth_policy {
    DEVICE_AUTH_OPTIONAL, /* default: those of keyed devices and of devices that have signed */
    DEVICE_AUTH_REQUIRED, /* every one (a v2 telemetry envelope is its own proof) */
};

#define FIRMWARE_MAX_LIMIT (64 << 20) /* PROVD_FIRMWARE_MAX's largest value: 64 MiB */

struct config {
    const char *db_path;                   /* PROVD_DB */
    enum registration_policy registration; /* PROVD_REGISTRATION: approve (default), open, closed */
    int64_t poll_interval;                 /* PROVD_POLL_INTERVAL: seconds, default 60 */
    const char *fleet_key;  /* PROVD_FLEET_KEY: the secret of devices without one; NULL: none */
    int64_t retention_days; /* PROVD_RETENTION_DAYS: readings older are pruned; 0: kept */
    int64_t audit_days;     /* PROVD_AUDIT_DAYS: audit entries older are pruned (default 365); 0: kept */
    bool sync_every_commit; /* PROVD_SYNCHRONOUS=full: each write fsynced before its answer */
    enum device_auth_policy device_auth; /* PROVD_DEVICE_AUTH: optional (default) or required */
    /* The caps on new devices (0: none): PROVD_MAX_DEVICES, devices that registered themselves;
     * PROVD_REGISTRATIONS_PER_MIN, new devices per client address; PROVD_PENDING_DAYS, after
     * which pending devices never let in are deleted. */
    int64_t max_devices, registrations_per_min, pending_days;
    const struct server_key *server_key; /* from PROVD_KEY_FILE (server_key.h), loaded at start */
    const char *metrics_file; /* PROVD_METRICS_FILE: the counters a host's workers share; NULL: each its own */
    /* PROVD_RUN_DIR: this host's own directory, where a writer that is not the database's (writer.h)
     * has its socket and lock; NULL: none, each worker writes its own readings */
    const char *run_dir;
    int64_t firmware_max;           /* PROVD_FIRMWARE_MAX: the largest image, bytes (4 MiB) */
    const char *firmware_cache;     /* PROVD_FIRMWARE_CACHE: the directory nginx sends images from */
    struct evp_pkey_st *firmware_pubkey; /* PROVD_FIRMWARE_PUBKEY's key: uploads must be signed; NULL: not */
    bool metrics_off;         /* PROVD_METRICS=off: nothing counted, /api/metrics a 404 */
    int64_t rollout_sweep;    /* PROVD_ROLLOUT_SWEEP: seconds between a worker's rollout sweeps (10); 0: none here */
};

struct writer;
struct metrics;

struct app {
    struct config config;
    struct store *store;
    struct writer *writer; /* the stack's writer of readings (writer.h); NULL: write here */
    struct metrics *metrics;      /* the host's shared counters (metrics.h); NULL: none kept */
    int thread;                   /* this request thread's number, for the writer */
    const char *request_id;       /* nginx's id of the request being served, for the log; NULL: none */
    struct audit_actor actor;     /* the admin of the request being served (auth_admin()), for audit_record() */
    int64_t (*now)(void);         /* Unix seconds; tests set their own clock */
    unsigned readings_since_prune;
    /* Set by a handler: work for this thread once its answer has gone (main.c), before it takes
     * the next request; it may use the store. Cleared when run. */
    void (*after_answer)(struct app *app);
    struct recently_offline offline; /* GET /api/overview's, as this worker last read it */
    struct firmware_counts firmware; /* the same */
};

/* Reads PROVD_* from the environment; false with the reason in err when a value is invalid. */
bool config_from_env(struct config *config, char *err, size_t err_len);

typedef void (*handler_fn)(struct app *app, const struct request *req, struct response *res);

/* Routes a request to its handler (see the route table in router.c); returns the route's index in
 * the table, -1 when none matched (404, 405). */
int router_dispatch(struct app *app, struct request *req, struct response *res);
/* The route table's size and each route's name, e.g. "device_get" (the metrics' route label). */
int router_route_count(void);
const char *router_route_name(int route);

/* Microseconds on the monotonic clock since start. */
int64_t micros_since(const struct timespec *start);

/* The fleet's gauges for an answer: counted now, or while counting is slow the host's last count
 * (metrics.h), then counted again after the answer when it is due. false: the database did not
 * answer (logged). */
bool fleet_gauges(struct app *app, struct store_fleet *out, int64_t *counted_at);

/* Handlers, one file per endpoint family. */
void handle_api_root(struct app *app, const struct request *req, struct response *res);
void handle_health(struct app *app, const struct request *req, struct response *res);
void handle_stats(struct app *app, const struct request *req, struct response *res);
void handle_metrics(struct app *app, const struct request *req, struct response *res);
void handle_device_list(struct app *app, const struct request *req, struct response *res);
void handle_device_register(struct app *app, const struct request *req, struct response *res);
void handle_device_get(struct app *app, const struct request *req, struct response *res);
void handle_device_update(struct app *app, const struct request *req, struct response *res);
void handle_device_delete(struct app *app, const struct request *req, struct response *res);
void handle_device_bulk(struct app *app, const struct request *req, struct response *res);
void handle_device_new_key(struct app *app, const struct request *req, struct response *res);
void handle_telemetry_post(struct app *app, const struct request *req, struct response *res);
void handle_telemetry_get(struct app *app, const struct request *req, struct response *res);
void handle_firmware_upload(struct app *app, const struct request *req, struct response *res);
void handle_firmware_list(struct app *app, const struct request *req, struct response *res);
void handle_firmware_delete(struct app *app, const struct request *req, struct response *res);
void handle_device_firmware_image(struct app *app, const struct request *req, struct response *res);
void handle_ota(struct app *app, const struct request *req, struct response *res);
/* The largest body the route of method and path takes (BODY_MAX but for a firmware upload). */
size_t router_body_max(const struct app *app, const char *method, const char *path);
void handle_audit_list(struct app *app, const struct request *req, struct response *res);
void handle_overview(struct app *app, const struct request *req, struct response *res);
void handle_rollout_create(struct app *app, const struct request *req, struct response *res);
void handle_rollout_list(struct app *app, const struct request *req, struct response *res);
void handle_rollout_get(struct app *app, const struct request *req, struct response *res);
void handle_rollout_pause(struct app *app, const struct request *req, struct response *res);
void handle_rollout_resume(struct app *app, const struct request *req, struct response *res);
void handle_rollout_cancel(struct app *app, const struct request *req, struct response *res);

/* Admin authentication (auth.c): true when the request carries a valid admin token, whose name
 * then is app->actor's (via "api", at now); otherwise res holds the 401 to send. */
bool auth_admin(struct app *app, const struct request *req, struct response *res);

/* Answers a store failure st and logs the reason (never sent to the client): 503 with Retry-After
 * when the database cannot be reached now, 500 otherwise. */
#define DATABASE_RETRY_AFTER_S 2
void respond_store_error(struct app *app, struct response *res, enum store_status st);

#endif
