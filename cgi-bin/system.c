/* Endpoints about the service itself: the API root, a health check for monitors, counts, and
 * the metrics for Prometheus. */
#include <time.h>

#include "app.h"
#include "log.h"
#include "metrics.h"

#define PROVD_VERSION "0.1.0"

void handle_api_root(struct app *app, const struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("REST API"));
    json_object_object_add(o, "name", json_object_new_string("provd"));
    json_object_object_add(o, "version", json_object_new_string(PROVD_VERSION));
    response_json(res, 200, o);
}

void handle_health(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    if (store_ping(app->store) == STORE_OK) {
        response_ok(res, 200, "healthy");
    } else {
        response_error(res, 503, "the database does not answer");
    }
}

void handle_stats(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    struct store_fleet fleet;
    int64_t counted_at, readings;
    enum store_status status = fleet_gauges(app, &fleet, &counted_at) ? store_reading_count(app->store, &readings)
                                                                       : STORE_UNAVAILABLE;
    if (status != STORE_OK) {
        respond_store_error(app, res, status);
        return;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "devices", json_object_new_int64(fleet.pending + fleet.accepted + fleet.rejected));
    json_object_object_add(o, "online", json_object_new_int64(fleet.online));
    json_object_object_add(o, "pending", json_object_new_int64(fleet.pending));
    json_object_object_add(o, "readings", json_object_new_int64(readings));
    response_json(res, 200, o);
}

/* Counts the fleet into out and keeps the count for the host's next callers. */
static bool count_fleet(struct app *app, struct store_fleet *out, int64_t *counted_at)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    *counted_at = app->now();
    if (store_fleet(app->store, *counted_at, app->config.poll_interval, out) != STORE_OK) {
        log_event("error", "database", app->request_id, NULL, "%s", store_errmsg(app->store));
        return false;
    }
    metrics_fleet_counted(app->metrics, out, *counted_at, micros_since(&start));
    return true;
}

static void recount_fleet(struct app *app)
{
    struct store_fleet fleet;
    int64_t counted_at;
    count_fleet(app, &fleet, &counted_at);
}

bool fleet_gauges(struct app *app, struct store_fleet *out, int64_t *counted_at)
{
    switch (metrics_fleet_kept(app->metrics, app->now(), out, counted_at)) {
    case METRICS_FLEET_KEPT_RECOUNT:
        app->after_answer = recount_fleet;
        return true;
    case METRICS_FLEET_KEPT:
        return true;
    default:
        return count_fleet(app, out, counted_at);
    }
}

/* GET /api/metrics: the host's counters and the fleet's gauges (fleet_gauges()). A database that
 * does not answer leaves the gauges out (provd_database_up 0): the counters are still worth a scrape. */
void handle_metrics(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    if (app->config.metrics_off) {
        response_error(res, 404, "metrics are off here (PROVD_METRICS=off)");
        return;
    }
    struct store_fleet fleet;
    int64_t counted_at;
    bool counted = fleet_gauges(app, &fleet, &counted_at);
    metrics_write(app->metrics, counted ? &fleet : NULL, counted_at, res);
}
