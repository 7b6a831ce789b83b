/* What handlers share beyond the router: the worker's configuration, read from PROVD_*
 * environment variables once at start, and the answer to a failed database call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "firmware_image.h"
#include "log.h"
#include "secret.h"
#include "validate.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Which of the n choices the variable name holds (unset: the first); -1, with err naming the
 * choices, for anything else. */
static int env_choice(const char *name, const char *const *choices, int n, char *err, size_t err_len)
{
    const char *v = env_or(name, choices[0]);
    for (int i = 0; i < n; i++)
        if (strcmp(v, choices[i]) == 0)
            return i;
    size_t w = (size_t)snprintf(err, err_len, "%s must be ", name);
    for (int i = 0; i < n && w < err_len; i++)
        w += (size_t)snprintf(err + w, err_len - w, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", choices[i]);
    if (w < err_len)
        snprintf(err + w, err_len - w, " (not \"%.32s\")", v);
    return -1;
}

bool config_from_env(struct config *c, char *err, size_t err_len)
{
    c->db_path = env_or("PROVD_DB", "db/provd.sqlite3");

    /* In the order of enum registration_policy. */
    static const char *const policies[] = {"approve", "open", "closed"};
    int policy = env_choice("PROVD_REGISTRATION", policies, 3, err, err_len);
    if (policy < 0)
        return false;
    c->registration = (enum registration_policy)policy;

    const char *interval = env_or("PROVD_POLL_INTERVAL", "60");
    if (!parse_int_range(interval, POLL_INTERVAL_MIN, POLL_INTERVAL_MAX, &c->poll_interval)) {
        snprintf(err, err_len, "PROVD_POLL_INTERVAL must be whole seconds from %d to %d", POLL_INTERVAL_MIN,
                 POLL_INTERVAL_MAX);
        return false;
    }

    c->fleet_key = getenv("PROVD_FLEET_KEY");
    if (c->fleet_key && !*c->fleet_key)
        c->fleet_key = NULL;
    if (c->fleet_key && !secret_valid_device_key(c->fleet_key)) {
        snprintf(err, err_len, "PROVD_FLEET_KEY must be 1-%d bytes of UTF-8 text without control characters",
                 SECRET_MAX_LEN);
        return false;
    }

    const char *retention = env_or("PROVD_RETENTION_DAYS", "0");
    if (!parse_int_range(retention, 0, 36500, &c->retention_days)) {
        snprintf(err, err_len, "PROVD_RETENTION_DAYS must be whole days from 0 (keep all) to 36500");
        return false;
    }

    /* In the order of enum device_auth_policy. */
    static const char *const auth_policies[] = {"optional", "required"};
    int device_auth = env_choice("PROVD_DEVICE_AUTH", auth_policies, 2, err, err_len);
    if (device_auth < 0)
        return false;
    c->device_auth = (enum device_auth_policy)device_auth;

    /* The caps: a flood of made-up devices fills neither the disk nor the admin's list. */
    const struct {
        const char *name, *fallback;
        int64_t max;
        int64_t *out;
    } caps[] = {
        {"PROVD_MAX_DEVICES", "100000", 100000000, &c->max_devices},
        {"PROVD_REGISTRATIONS_PER_MIN", "60", 1000000, &c->registrations_per_min},
        {"PROVD_PENDING_DAYS", "14", 36500, &c->pending_days},
        {"PROVD_AUDIT_DAYS", "365", 36500, &c->audit_days},
        {"PROVD_ROLLOUT_SWEEP", "10", 3600, &c->rollout_sweep},
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        if (!parse_int_range(env_or(caps[i].name, caps[i].fallback), 0, caps[i].max, caps[i].out)) {
            snprintf(err, err_len, "%s must be a whole number from 0 (no limit) to %lld", caps[i].name,
                     (long long)caps[i].max);
            return false;
        }
    }

    c->metrics_file = getenv("PROVD_METRICS_FILE");
    if (c->metrics_file && !*c->metrics_file)
        c->metrics_file = NULL;
    c->run_dir = getenv("PROVD_RUN_DIR");
    if (c->run_dir && !*c->run_dir)
        c->run_dir = NULL;
    if (c->run_dir && access(c->run_dir, W_OK | X_OK) != 0) {
        snprintf(err, err_len, "PROVD_RUN_DIR: %s is not a directory provd can write to (%s)", c->run_dir,
                 strerror(errno));
        return false;
    }

    if (!parse_int_range(env_or("PROVD_FIRMWARE_MAX", "4194304"), 1, FIRMWARE_MAX_LIMIT, &c->firmware_max)) {
        snprintf(err, err_len, "PROVD_FIRMWARE_MAX must be bytes from 1 to %d", FIRMWARE_MAX_LIMIT);
        return false;
    }
    c->firmware_cache = env_or("PROVD_FIRMWARE_CACHE", NULL);
    if (c->firmware_cache && c->firmware_cache[0] != '/') {
        snprintf(err, err_len, "PROVD_FIRMWARE_CACHE must be an absolute path");
        return false;
    }
    const char *pubkey = env_or("PROVD_FIRMWARE_PUBKEY", NULL);
    c->firmware_pubkey = pubkey ? firmware_pubkey_load(pubkey, err, err_len) : NULL;
    if (pubkey && !c->firmware_pubkey)
        return false;

    static const char *const metrics[] = {"on", "off"};
    int metrics_choice = env_choice("PROVD_METRICS", metrics, 2, err, err_len);
    if (metrics_choice < 0)
        return false;
    c->metrics_off = metrics_choice == 1;

    static const char *const synchronous[] = {"normal", "full"};
    int sync = env_choice("PROVD_SYNCHRONOUS", synchronous, 2, err, err_len);
    c->sync_every_commit = sync == 1;
    return sync >= 0;
}

void respond_store_error(struct app *app, struct response *res, enum store_status st)
{
    log_event("error", "database", app->request_id, NULL, "%s", store_errmsg(app->store));
    if (st == STORE_UNAVAILABLE) {
        response_error(res, 503, "the database is unavailable: try again shortly");
        response_header(res, "Retry-After", "%d", DATABASE_RETRY_AFTER_S);
    } else {
        response_error(res, 500, "internal error: the database failed (see the server log)");
    }
}

int64_t micros_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - start->tv_sec) * 1000000 + (now.tv_nsec - start->tv_nsec) / 1000;
}
