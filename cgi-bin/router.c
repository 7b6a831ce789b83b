/* The route table and its dispatcher: method + path pattern -> handler, with 404, 405 + Allow,
 * admin authentication and validation of the {id} path segment done here, once, for every route.
 * A route's name is its label in the metrics (metrics.h): stable, one per row. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "validate.h"

/* ACCESS_METRICS: an admin token, or none from an address nginx lets scrape (METRICS_ALLOW). */
enum access { ACCESS_PUBLIC, ACCESS_ADMIN, ACCESS_METRICS };

struct route {
    const char *method;
    const char *pattern; /* "{id}" matches one path segment, a device id; "{version}", a firmware version;
                          * "{rollout}", a rollout's id */
    enum access access;
    handler_fn handler;
    const char *name;
};

static const struct route routes[] = {
    {"GET", "/api/", ACCESS_PUBLIC, handle_api_root, "api_root"},
    {"GET", "/api/health", ACCESS_PUBLIC, handle_health, "health"},
    {"GET", "/api/stats", ACCESS_ADMIN, handle_stats, "stats"},
    {"GET", "/api/metrics", ACCESS_METRICS, handle_metrics, "metrics"},
    {"GET", "/api/devices", ACCESS_ADMIN, handle_device_list, "device_list"},
    {"POST", "/api/bulk", ACCESS_ADMIN, handle_device_bulk, "device_bulk"},
    {"GET", "/api/devices/{id}", ACCESS_PUBLIC, handle_device_get, "device_get"},
    {"POST", "/api/devices/{id}", ACCESS_PUBLIC, handle_device_register, "device_register"},
    {"PUT", "/api/devices/{id}", ACCESS_ADMIN, handle_device_update, "device_update"},
    {"DELETE", "/api/devices/{id}", ACCESS_ADMIN, handle_device_delete, "device_delete"},
    {"POST", "/api/devices/{id}/key", ACCESS_ADMIN, handle_device_new_key, "device_key"},
    {"POST", "/api/devices/{id}/telemetry", ACCESS_PUBLIC, handle_telemetry_post, "telemetry_post"},
    {"GET", "/api/devices/{id}/telemetry", ACCESS_ADMIN, handle_telemetry_get, "telemetry_get"},
    {"GET", "/api/devices/{id}/firmware", ACCESS_PUBLIC, handle_device_firmware_image, "device_firmware"},
    {"POST", "/api/firmware", ACCESS_ADMIN, handle_firmware_upload, "firmware_upload"},
    {"GET", "/api/firmware", ACCESS_ADMIN, handle_firmware_list, "firmware_list"},
    {"DELETE", "/api/firmware/{version}", ACCESS_ADMIN, handle_firmware_delete, "firmware_delete"},
    {"GET", "/api/ota", ACCESS_PUBLIC, handle_ota, "ota"},
    {"GET", "/api/audit", ACCESS_ADMIN, handle_audit_list, "audit_list"},
    {"GET", "/api/overview", ACCESS_ADMIN, handle_overview, "overview"},
    {"POST", "/api/rollouts", ACCESS_ADMIN, handle_rollout_create, "rollout_create"},
    {"GET", "/api/rollouts", ACCESS_ADMIN, handle_rollout_list, "rollout_list"},
    {"GET", "/api/rollouts/{rollout}", ACCESS_ADMIN, handle_rollout_get, "rollout_get"},
    {"POST", "/api/rollouts/{rollout}/pause", ACCESS_ADMIN, handle_rollout_pause, "rollout_pause"},
    {"POST", "/api/rollouts/{rollout}/resume", ACCESS_ADMIN, handle_rollout_resume, "rollout_resume"},
    {"POST", "/api/rollouts/{rollout}/cancel", ACCESS_ADMIN, handle_rollout_cancel, "rollout_cancel"},
};

/* The one route whose body may be larger than BODY_MAX: an image, up to PROVD_FIRMWARE_MAX. */
size_t router_body_max(const struct app *app, const char *method, const char *path)
{
    bool upload = strcmp(method, "POST") == 0 && strcmp(path, "/api/firmware") == 0;
    return upload ? (size_t)app->config.firmware_max : BODY_MAX;
}

#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

int router_route_count(void)
{
    return (int)ROUTE_COUNT;
}

const char *router_route_name(int route)
{
    return routes[route].name;
}

/* Matches path against pattern; *id gets where its one {id} or {version} segment is (length 0
 * when none). */
static bool path_matches(const char *pattern, const char *path, const char **id, size_t *id_len)
{
    *id_len = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            *id = path;
            *id_len = strcspn(path, "/");
            if (*id_len == 0)
                return false;
            pattern += strcspn(pattern, "}") + 1;
            path += *id_len;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

/* Ends an admin's change (store_write_begin() in run_route()): committed when the handler
 * answered success, else rolled back, so its audit entry (audit_record()) is there exactly when
 * the change is. A commit that fails turns the answer into the store's error. */
static void end_change(struct app *app, struct response *res)
{
    bool commit = res->status < 400;
    enum store_status st = store_write_end(app->store, commit);
    if (commit && st != STORE_OK) {
        response_reset(res);
        response_header(res, "Cache-Control", "no-store");
        respond_store_error(app, res, st);
    }
}

/* Authentication, the {id} segment's validation, then the handler. An admin's GET (list, stats,
 * readings) only reads: it runs in one read transaction, one snapshot and one read lock for all
 * its lookups (the token check, which may record the token's use, comes before). Any other
 * admin call is a change: one write transaction, with its audit entry. */
static void run_route(struct app *app, const struct route *route, const char *id, size_t id_len,
                      struct request *req, struct response *res)
{
    /* What an admin sees (devices, readings, a new key) stays out of every cache, and so does
     * the refusal of a token. */
    if (route->access == ACCESS_ADMIN || req->authorization)
        response_header(res, "Cache-Control", "no-store");
    if (route->access == ACCESS_ADMIN && !auth_admin(app, req, res))
        return;
    if (route->access == ACCESS_METRICS && !req->metrics_allowed && !auth_admin(app, req, res))
        return;
    char deviceid[DEVICE_ID_MAX + 1], version[FIRMWARE_VERSION_MAX + 1];
    if (id_len > 0 && strstr(route->pattern, "{version}")) {
        if (!valid_firmware_version(id, id_len)) {
            response_error(res, 400, "version " FIRMWARE_VERSION_RULE);
            return;
        }
        memcpy(version, id, id_len);
        version[id_len] = '\0';
        req->version = version;
    } else if (id_len > 0 && strstr(route->pattern, "{rollout}")) {
        char number[24] = "";
        if (id_len < sizeof number)
            memcpy(number, id, id_len);
        if (!parse_int_range(number, 1, INT64_C(999999999999999), &req->rollout)) {
            response_error(res, 404, "no such rollout: a rollout's id is a whole number");
            return;
        }
    } else if (id_len > 0) {
        if (id_len <= DEVICE_ID_MAX) {
            memcpy(deviceid, id, id_len);
            deviceid[id_len] = '\0';
        }
        if (id_len > DEVICE_ID_MAX || !valid_device_id(deviceid)) {
            response_error(res, 400, "deviceid must be 1-%d characters of A-Z a-z 0-9 . _ : -",
                           DEVICE_ID_MAX);
            return;
        }
        req->deviceid = deviceid;
    }
    bool admin_get = route->access == ACCESS_ADMIN && strcmp(route->method, "GET") == 0;
    bool one_read = admin_get && store_read_begin(app->store) == STORE_OK;
    bool change = route->access == ACCESS_ADMIN && !admin_get;
    enum store_status st = change ? store_write_begin(app->store) : STORE_OK;
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    route->handler(app, req, res);
    if (one_read)
        store_read_end(app->store);
    if (change)
        end_change(app, res);
}

int router_dispatch(struct app *app, struct request *req, struct response *res)
{
    char allow[64] = "";
    const struct route *route = NULL;
    const char *id = NULL;
    size_t id_len = 0;
    for (size_t i = 0; i < ROUTE_COUNT && !route; i++) {
        if (!path_matches(routes[i].pattern, req->path, &id, &id_len))
            continue;
        if (strcmp(routes[i].method, req->method) == 0) {
            route = &routes[i];
        } else if (!strstr(allow, routes[i].method)) {
            size_t used = strlen(allow);
            snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", routes[i].method);
        }
    }
    if (!route && allow[0]) {
        response_header(res, "Allow", "%s", allow);
        response_error(res, 405, "%s is not allowed here; allowed: %s", req->method, allow);
        return -1;
    }
    if (!route) {
        response_error(res, 404, "no such endpoint: %.200s", req->path);
        return -1;
    }
    run_route(app, route, id, id_len, req, res);
    return (int)(route - routes);
}
