/* The shared counters (cgi-bin/metrics.c): two mappings of one file count into the same slots, as
 * a host's workers do, a new mapping finds the counts of a closed one (a restarted worker), a file
 * of another layout is made anew; and GET /api/metrics through the router: who may read it, the
 * content type, the counters and the fleet's gauges in the text; the fleet's count kept for a
 * host's workers while counting is slow, one recount at a time. */
#include "testapp.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "metrics.h"

struct files {
    char dir[256], path[300];
};

static int setup_files(void **state)
{
    struct files *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/provd-metrics-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/provd.metrics", f->dir);
    *state = f;
    return 0;
}

static int teardown_files(void **state)
{
    struct files *f = *state;
    unlink(f->path);
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static struct metrics *open_metrics(const char *path)
{
    char err[512] = "";
    struct metrics *m = metrics_open(path, err, sizeof err);
    if (!m)
        fail_msg("metrics_open(%s): %s", path ? path : "NULL", err);
    return m;
}

static int route_named(const char *name)
{
    for (int i = 0; i < router_route_count(); i++)
        if (strcmp(router_route_name(i), name) == 0)
            return i;
    fail_msg("no route %s", name);
    return -1;
}

/* The exposition of m, NUL-terminated in res->body. */
static const char *exposition(struct metrics *m, const struct store_fleet *fleet, struct response *res)
{
    metrics_write(m, fleet, 1700000000, res);
    assert_int_equal(res->status, 200);
    assert_string_equal(res->content_type, "text/plain; version=0.0.4");
    return res->body;
}

/* Whether text has want as a whole line. */
static void assert_line(const char *text, const char *want)
{
    size_t len = strlen(want);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, want, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            return;
    fail_msg("no line \"%s\" in:\n%s", want, text);
}

static void counted_across_mappings_and_restarts(void **state)
{
    struct files *f = *state;
    struct metrics *a = open_metrics(f->path), *b = open_metrics(f->path);
    int poll = route_named("device_get");
    metrics_request(a, poll, 304, 200);      /* <= 1 ms */
    metrics_request(b, poll, 200, 3000);     /* <= 5 ms */
    metrics_request(b, poll, 503, 9000000);  /* above every bound */
    metrics_request(a, METRICS_NO_ROUTE, 404, 10);
    metrics_reading(a, METRICS_READING_ACCEPTED);
    metrics_reading(b, METRICS_READING_ACCEPTED);
    metrics_reading(b, METRICS_READING_REPLAY);
    metrics_registration(b);
    metrics_poll(a, METRICS_POLL_NOT_MODIFIED);
    metrics_close(a);
    metrics_close(b);

    struct metrics *again = open_metrics(f->path); /* a worker started after both ended */
    struct response res;
    response_init(&res);
    const char *text = exposition(again, NULL, &res);
    assert_line(text, "provd_requests_total{route=\"device_get\",code=\"3xx\"} 1");
    assert_line(text, "provd_requests_total{route=\"device_get\",code=\"2xx\"} 1");
    assert_line(text, "provd_requests_total{route=\"device_get\",code=\"5xx\"} 1");
    assert_line(text, "provd_requests_total{route=\"unmatched\",code=\"4xx\"} 1");
    assert_line(text, "provd_request_duration_seconds_bucket{route=\"device_get\",le=\"0.001\"} 1");
    assert_line(text, "provd_request_duration_seconds_bucket{route=\"device_get\",le=\"0.005\"} 2");
    assert_line(text, "provd_request_duration_seconds_bucket{route=\"device_get\",le=\"2.5\"} 2");
    assert_line(text, "provd_request_duration_seconds_bucket{route=\"device_get\",le=\"+Inf\"} 3");
    assert_line(text, "provd_request_duration_seconds_sum{route=\"device_get\"} 9.003200");
    assert_line(text, "provd_request_duration_seconds_count{route=\"device_get\"} 3");
    assert_line(text, "provd_readings_total{result=\"accepted\"} 2");
    assert_line(text, "provd_readings_total{result=\"replay\"} 1");
    assert_line(text, "provd_readings_total{result=\"refused\"} 0");
    assert_line(text, "provd_registrations_total 1");
    assert_line(text, "provd_polls_total{answer=\"304\"} 1");
    assert_line(text, "provd_polls_total{answer=\"200\"} 0");
    assert_line(text, "provd_database_up 0");
    assert_null(strstr(text, "route=\"telemetry_post\"")); /* no requests: no series */
    response_free(&res);
    metrics_close(again);
}

/* Another binary's file (another size, or another header): counting starts over in a new one. */
static void other_layout_made_anew(void **state)
{
    struct files *f = *state;
    struct metrics *m = open_metrics(f->path);
    metrics_registration(m);
    metrics_close(m);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    int fd = open(f->path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "provdXXX", 8, 0), 8); /* a header this binary does not know */
    close(fd);
    m = open_metrics(f->path);
    struct response res;
    response_init(&res);
    assert_line(exposition(m, NULL, &res), "provd_registrations_total 0");
    metrics_registration(m);
    metrics_close(m);
    assert_int_equal(truncate(f->path, st.st_size / 2), 0); /* a smaller layout */
    m = open_metrics(f->path);
    assert_line(exposition(m, NULL, &res), "provd_registrations_total 0");
    assert_int_equal(stat(f->path, &st), 0);
    response_free(&res);
    metrics_close(m);
    assert_true(st.st_size > 0);
}

/* GET /api/metrics: an admin token, or nginx's word that the address may scrape. */
static int serve_metrics(struct testapp_fixture *fx, const char *authorization, bool allowed)
{
    struct request req = {.method = "GET", .path = "/api/metrics", .query = "",
                          .authorization = authorization, .metrics_allowed = allowed};
    response_reset(&fx->res);
    assert_int_equal(router_dispatch(&fx->app, &req, &fx->res), route_named("metrics"));
    return fx->res.status;
}

static void metrics_route(void **state)
{
    struct testapp_fixture *fx = *state;
    fx->app.metrics = open_metrics(NULL);
    struct request reg = {.method = "POST", .path = "/api/devices/m1", .query = "", .body = "{}", .body_len = 2};
    response_reset(&fx->res);
    router_dispatch(&fx->app, &reg, &fx->res);
    assert_int_equal(fx->res.status, 201);

    assert_int_equal(serve_metrics(fx, NULL, false), 401);
    assert_int_equal(serve_metrics(fx, "Bearer not-a-token", false), 401);
    assert_int_equal(serve_metrics(fx, fx->auth, false), 200);
    assert_int_equal(serve_metrics(fx, NULL, true), 200);
    assert_string_equal(fx->res.content_type, "text/plain; version=0.0.4");
    const char *text = fx->res.body;
    assert_line(text, "provd_registrations_total 1");
    assert_line(text, "provd_devices{state=\"accepted\"} 1"); /* open registration */
    assert_line(text, "provd_devices{state=\"pending\"} 0");
    assert_line(text, "provd_devices_liveness{liveness=\"online\"} 1");
    assert_line(text, "provd_devices_liveness{liveness=\"offline\"} 0");
    assert_line(text, "provd_rollouts{state=\"running\"} 0");
    assert_line(text, "provd_database_up 1");
    assert_non_null(strstr(text, "\nprovd_database_bytes "));
    assert_null(strstr(text, "provd_database_bytes 0\n"));
    metrics_close(fx->app.metrics);
}

static const struct store_fleet some_fleet = {.pending = 1, .accepted = 2, .rejected = 3, .online = 4,
                                              .overdue = 5, .offline = 6, .database_bytes = 7};

/* A cheap count is made afresh by each caller; none is kept without metrics. */
static void cheap_counts_are_made_afresh(void **state)
{
    struct files *f = *state;
    struct metrics *m = open_metrics(f->path);
    struct store_fleet out;
    int64_t at;
    assert_int_equal(metrics_fleet_kept(m, 1000, &out, &at), METRICS_FLEET_COUNT); /* none yet */
    metrics_fleet_counted(m, &some_fleet, 1000, METRICS_FLEET_CHEAP_MICROS - 1);
    assert_int_equal(metrics_fleet_kept(m, 1000, &out, &at), METRICS_FLEET_COUNT);
    assert_int_equal(metrics_fleet_kept(NULL, 1000, &out, &at), METRICS_FLEET_COUNT);
    metrics_close(m);
}

/* A slow count (2 s) is kept for every mapping of the file, answered until it is 20 counts' time
 * (40 s) old; then one caller recounts, the others keep answering it; a claim whose worker died
 * runs out; a new count starts the wait again. */
static void slow_counts_are_kept_and_recounted_once(void **state)
{
    struct files *f = *state;
    struct metrics *a = open_metrics(f->path), *b = open_metrics(f->path);
    struct store_fleet out;
    int64_t at;
    metrics_fleet_counted(a, &some_fleet, 1000, 2000000);
    assert_int_equal(metrics_fleet_kept(b, 1039, &out, &at), METRICS_FLEET_KEPT);
    assert_int_equal(at, 1000);
    assert_memory_equal(&out, &some_fleet, sizeof out);
    assert_int_equal(metrics_fleet_kept(b, 1040, &out, &at), METRICS_FLEET_KEPT_RECOUNT);
    assert_memory_equal(&out, &some_fleet, sizeof out);
    assert_int_equal(metrics_fleet_kept(a, 1041, &out, &at), METRICS_FLEET_KEPT); /* b counts */
    assert_int_equal(metrics_fleet_kept(a, 1053, &out, &at), METRICS_FLEET_KEPT);
    assert_int_equal(metrics_fleet_kept(a, 1054, &out, &at), METRICS_FLEET_KEPT_RECOUNT); /* b died */
    struct store_fleet later = some_fleet;
    later.online = 40;
    metrics_fleet_counted(a, &later, 1056, 2000000);
    assert_int_equal(metrics_fleet_kept(b, 1057, &out, &at), METRICS_FLEET_KEPT);
    assert_int_equal(at, 1056);
    assert_int_equal(out.online, 40);
    metrics_close(a);
    metrics_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(counted_across_mappings_and_restarts, setup_files, teardown_files),
        cmocka_unit_test_setup_teardown(other_layout_made_anew, setup_files, teardown_files),
        cmocka_unit_test_setup_teardown(cheap_counts_are_made_afresh, setup_files, teardown_files),
        cmocka_unit_test_setup_teardown(slow_counts_are_kept_and_recounted_once, setup_files, teardown_files),
        cmocka_unit_test_setup_teardown(metrics_route, testapp_setup_open, testapp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
