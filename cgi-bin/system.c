/* Endpoints about the service itself: the API root, a health check for monitors, counts, and
 * the metrics for Prometheus. */
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
    struct store_stats st;
    enum store_status status = store_stats(app->store, app->now(), app->config.poll_interval, &st);
    if (status != STORE_OK) {
        respond_store_error(app, res, status);
        return;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "devices", json_object_new_int64(st.devices));
    json_object_object_add(o, "online", json_object_new_int64(st.online));
    json_object_object_add(o, "pending", json_object_new_int64(st.pending));
    json_object_object_add(o, "readings", json_object_new_int64(st.readings));
    response_json(res, 200, o);
}

/* GET /api/metrics: the host's counters and the fleet's gauges at this moment. A database that does
 * not answer leaves the gauges out (provd_database_up 0): the counters are still worth a scrape. */
void handle_metrics(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    struct store_fleet fleet;
    bool counted = store_fleet(app->store, app->now(), app->config.poll_interval, &fleet) == STORE_OK;
    if (!counted)
        log_event("error", "database", app->request_id, NULL, "%s", store_errmsg(app->store));
    metrics_write(app->metrics, counted ? &fleet : NULL, res);
}
