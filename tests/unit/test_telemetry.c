/* Telemetry through the router with a real store and a test clock: ingest, replay, the uniform
 * refusal, reading back in pages and buckets, CSV, SEQN reset and retention pruning. */
#include "testapp.h"

#include "device_trust.h"
#include "e2ee.h"
#include "ingest.h"
#include "telemetry.h"

#define KEY "000102030405060708090a0b0c0d0e0f"

/* One request through the router; the answer is in f->res. */
static int call(struct testapp_fixture *f, const char *method, const char *path, const char *query,
                const char *body, bool admin)
{
    struct request req = {.method = method,
                          .path = path,
                          .query = query ? query : "",
                          .authorization = admin ? f->auth : NULL,
                          .body = body ? body : "",
                          .body_len = body ? strlen(body) : 0};
    response_reset(&f->res);
    router_dispatch(&f->app, &req, &f->res);
    return f->res.status;
}

static void add_device(struct testapp_fixture *f, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/devices/%s", id);
    assert_int_equal(call(f, "POST", path, NULL, "{}", false), 201);
    assert_int_equal(store_device_set_key(f->app.store, id, KEY), STORE_OK);
}

/* Posts a v2 reading of device id in SEQN epoch `epoch`, sealed for it; returns the status. */
static int post_reading_in(struct testapp_fixture *f, const char *id, int64_t epoch, const char *json)
{
    char *envelope = NULL, path[128], aad[E2EE_MAX_AAD + 1];
    assert_true(e2ee_v2_aad(id, epoch, aad));
    assert_int_equal(e2ee_seal_v2(aad, KEY, NULL, json, strlen(json), &envelope), E2EE_OK);
    snprintf(path, sizeof path, "/api/devices/%s/telemetry", id);
    int status = call(f, "POST", path, NULL, envelope, false);
    free(envelope);
    return status;
}

static int post_reading(struct testapp_fixture *f, const char *id, const char *json)
{
    return post_reading_in(f, id, 0, json);
}

static struct json_object *body_json(struct testapp_fixture *f)
{
    struct json_object *o = json_tokener_parse(f->res.body);
    assert_non_null(o);
    return o;
}

/* An unsigned reading's check reads nothing: ingest.c reads the device once, for its key and
 * envelope rules. */
static void test_unsigned_reading_checked_unread(void **state)
{
    struct testapp_fixture *f = *state;
    add_device(f, "quiet");
    struct request req = {.method = "POST", .path = "/api/devices/quiet/telemetry", .query = "", .deviceid = "quiet"};
    struct device_caller c;
    assert_true(device_call_check(&f->app, &req, DEVICE_CALL_READING, &f->res, &c));
    assert_false(c.known);
    assert_false(c.proved);
    assert_int_equal(post_reading(f, "quiet", "{\"SEQN\":1}"), 201);
}

/* The sealed envelope of a v2 reading of id (epoch 0), for the caller to free. */
static char *sealed(const char *id, const char *json)
{
    char *envelope = NULL, aad[E2EE_MAX_AAD + 1];
    assert_true(e2ee_v2_aad(id, 0, aad));
    assert_int_equal(e2ee_seal_v2(aad, KEY, NULL, json, strlen(json), &envelope), E2EE_OK);
    return envelope;
}

/* A writer's batch (ingest_batch()): the devices read in one step, each reading answered for
 * itself, a device's readings taken in the order given. */
static void test_batch_of_envelopes(void **state)
{
    struct testapp_fixture *f = *state;
    add_device(f, "first");
    add_device(f, "held");
    assert_int_equal(call(f, "PUT", "/api/devices/held", NULL, "{\"state\":\"pending\"}", true), 200);
    char *one = sealed("first", "{\"SEQN\":1}"), *three = sealed("first", "{\"SEQN\":3}"),
         *two = sealed("first", "{\"SEQN\":2}"), *held = sealed("held", "{\"SEQN\":1}"),
         *nobody = sealed("nobody", "{\"SEQN\":1}");
    struct ingest_item items[] = {
        {"first", one, strlen(one), TEST_T0, false, {0}},
        {"first", three, strlen(three), TEST_T0, false, {0}},
        {"held", held, strlen(held), TEST_T0, false, {0}},
        {"first", two, strlen(two), TEST_T0, false, {0}},
        {"nobody", nobody, strlen(nobody), TEST_T0, false, {0}},
        {"first", "not an envelope", 15, TEST_T0, false, {0}},
    };
    ingest_batch(f->app.store, &f->app.config, items, 6);
    int want[] = {INGEST_STORED, INGEST_STORED, INGEST_NOT_ACCEPTED, INGEST_STALE, INGEST_UNKNOWN, INGEST_UNREADABLE};
    for (int i = 0; i < 6; i++)
        assert_int_equal(items[i].result.outcome, want[i]);
    assert_int_equal(items[1].result.seqn, 3);
    assert_string_equal(items[2].result.state, "pending");
    free(one);
    free(three);
    free(two);
    free(held);
    free(nobody);
}

/* A reading opened against its device as read before an admin rejected it (the start of a
 * writer's batch, another host's reject) is refused when it is stored: 403, nothing stored. */
static void test_rejected_between_read_and_write(void **state)
{
    struct testapp_fixture *f = *state;
    add_device(f, "turned");
    struct device_trust before;
    assert_int_equal(store_device_trust(f->app.store, "turned", &before), STORE_OK);
    assert_int_equal(call(f, "PUT", "/api/devices/turned", NULL, "{\"state\":\"rejected\"}", true), 200);
    char *one = sealed("turned", "{\"SEQN\":1}");
    struct ingest_result r;
    ingest_reading_known(f->app.store, &f->app.config, "turned", &before, one, strlen(one), TEST_T0, false, &r);
    assert_int_equal(r.outcome, INGEST_NOT_ACCEPTED);
    response_reset(&f->res);
    ingest_respond(&r, &f->res);
    assert_int_equal(f->res.status, 403);
    assert_non_null(strstr(f->res.body, "the device is not accepted"));
    assert_int_equal(call(f, "GET", "/api/devices/turned/telemetry", NULL, NULL, true), 200);
    assert_null(strstr(f->res.body, "SEQN"));
    free(one);
}

static void test_ingest_and_replay(void **state)
{
    struct testapp_fixture *f = *state;
    add_device(f, "d1");
    assert_int_equal(post_reading(f, "d1", "{\"SEQN\":5,\"data\":{\"v\":1}}"), 201);
    struct json_object *o = body_json(f);
    assert_int_equal(json_object_get_int(json_object_object_get(o, "seqn")), 5);
    json_object_put(o);
    assert_int_equal(post_reading(f, "d1", "{\"SEQN\":5}"), 409);
    assert_int_equal(post_reading(f, "d1", "{\"SEQN\":4}"), 409);
    assert_int_equal(post_reading(f, "d1", "{\"SEQN\":6}"), 201);
}

static void test_uniform_refusal(void **state)
{
    struct testapp_fixture *f = *state;
    static const char *const bad[] = {"{\"data\":1}",
                                      "[1]",
                                      "{\"SEQN\":\"1\"}",
                                      "{\"SEQN\":-1}",
                                      "{\"SEQN\":1.5}",
                                      "{\"SEQN\":1,\"ts\":\"yesterday\"}",
                                      "{\"SEQN\":9007199254740993}"};
    char first[128] = "";
    add_device(f, "d2");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(post_reading(f, "d2", bad[i]), 400);
        if (i == 0)
            copy_text(first, sizeof first, f->res.body);
        assert_string_equal(f->res.body, first);
    }
    assert_int_equal(call(f, "POST", "/api/devices/d2/telemetry", NULL, "{\"v\":2}", false), 400);
    assert_string_equal(f->res.body, first);
}

static void test_states_and_keys(void **state)
{
    struct testapp_fixture *f = *state;
    assert_int_equal(post_reading(f, "nobody", "{\"SEQN\":1}"), 404);
    assert_int_equal(call(f, "POST", "/api/devices/keyless", NULL, "{}", false), 201);
    assert_int_equal(post_reading(f, "keyless", "{\"SEQN\":1}"), 403);
    f->app.config.fleet_key = KEY;
    assert_int_equal(post_reading(f, "keyless", "{\"SEQN\":1}"), 201);
    add_device(f, "d3");
    assert_int_equal(call(f, "PUT", "/api/devices/d3", NULL, "{\"state\":\"pending\"}", true), 200);
    assert_int_equal(post_reading(f, "d3", "{\"SEQN\":1}"), 403);
}

static void test_seqn_reset(void **state)
{
    struct testapp_fixture *f = *state;
    add_device(f, "d4");
    assert_int_equal(post_reading(f, "d4", "{\"SEQN\":100}"), 201);
    assert_int_equal(call(f, "PUT", "/api/devices/d4", NULL, "{\"seqn_reset\":true}", true), 200);
    /* The reset began epoch 1: a message of epoch 0 (a recording) does not open any more. */
    assert_int_equal(post_reading(f, "d4", "{\"SEQN\":1}"), 400);
    assert_int_equal(post_reading_in(f, "d4", 1, "{\"SEQN\":1}"), 201);
    assert_int_equal(call(f, "PUT", "/api/devices/d4", NULL, "{\"seqn_reset\":\"yes\"}", true), 400);
}

static void test_pages_and_ranges(void **state)
{
    struct testapp_fixture *f = *state;
    char json[64];
    add_device(f, "d5");
    for (int s = 1; s <= 12; s++) {
        clock_now = TEST_T0 + s * 60;
        snprintf(json, sizeof json, "{\"SEQN\":%d,\"data\":{\"v\":%d}}", s, s * 10);
        assert_int_equal(post_reading(f, "d5", json), 201);
    }
    assert_int_equal(call(f, "GET", "/api/devices/d5/telemetry", "limit=5", NULL, true), 200);
    struct json_object *page = body_json(f);
    assert_int_equal(json_object_array_length(page), 5);
    assert_int_equal(json_object_get_int(json_object_object_get(json_object_array_get_idx(page, 0), "seqn")),
                     12);
    json_object_put(page);
    assert_non_null(
        strstr(f->res.headers, "Link: </api/devices/d5/telemetry?limit=5&after=8>; rel=\"next\""));

    /* TEST_T0 + 3 min .. + 5 min: SEQN 3, 4, 5. */
    assert_int_equal(call(f, "GET", "/api/devices/d5/telemetry",
                          "order=asc&since=2026-11-22T08:45:10Z&until=2026-11-22T08:47:10Z", NULL, true),
                     200);
    page = body_json(f);
    assert_int_equal(json_object_array_length(page), 3);
    assert_int_equal(json_object_get_int(json_object_object_get(json_object_array_get_idx(page, 0), "seqn")),
                     3);
    json_object_put(page);

    /* A cursor that is another device's reading is no place in this device's pages: empty. */
    add_device(f, "d6");
    assert_int_equal(post_reading(f, "d6", "{\"SEQN\":1}"), 201);
    assert_int_equal(call(f, "GET", "/api/devices/d6/telemetry", NULL, NULL, true), 200);
    page = body_json(f);
    char query[64];
    snprintf(query, sizeof query, "after=%d",
             json_object_get_int(json_object_object_get(json_object_array_get_idx(page, 0), "id")));
    json_object_put(page);
    assert_int_equal(call(f, "GET", "/api/devices/d5/telemetry", query, NULL, true), 200);
    page = body_json(f);
    assert_int_equal(json_object_array_length(page), 0);
    json_object_put(page);
}

static void test_buckets(void **state)
{
    struct testapp_fixture *f = *state;
    char json[64];
    add_device(f, "d6");
    for (int s = 1; s <= 6; s++) {
        clock_now = TEST_T0 - TEST_T0 % 600 + (s <= 3 ? 10 : 610) + s;
        snprintf(json, sizeof json, "{\"SEQN\":%d,\"data\":{\"v\":%d},\"ok\":true}", s, s);
        assert_int_equal(post_reading(f, "d6", json), 201);
    }
    assert_int_equal(call(f, "GET", "/api/devices/d6/telemetry", "bucket=600", NULL, true), 200);
    struct json_object *buckets = body_json(f);
    assert_int_equal(json_object_array_length(buckets), 2);
    struct json_object *second = json_object_object_get(json_object_array_get_idx(buckets, 1), "fields");
    struct json_object *v = json_object_object_get(second, "data.v");
    assert_non_null(v);
    assert_true(json_object_get_double(json_object_object_get(v, "min")) == 4.0);
    assert_true(json_object_get_double(json_object_object_get(v, "avg")) == 5.0);
    assert_true(json_object_get_double(json_object_object_get(v, "max")) == 6.0);
    assert_null(json_object_object_get(second, "SEQN"));
    assert_null(json_object_object_get(second, "ok"));
    json_object_put(buckets);
}

static void test_csv_without_sink(void **state)
{
    struct testapp_fixture *f = *state;
    add_device(f, "d7");
    assert_int_equal(post_reading(f, "d7", "{\"SEQN\":1,\"a\":{\"b\":[1,\"x\"]}}"), 201);
    assert_int_equal(post_reading(f, "d7", "{\"SEQN\":2,\"c\":null,\"a\":{\"b\":[2]}}"), 201);
    assert_int_equal(call(f, "GET", "/api/devices/d7/telemetry", "format=csv&order=asc", NULL, true), 200);
    const char *csv = f->res.body;
    assert_true(strncmp(csv, "seqn,received_at,ts,a.b.0,a.b.1,c\r\n", 35) == 0);
    assert_non_null(strstr(csv, "\r\n1,2026-11-22T08:42:10Z,,1,x,\r\n"));
    assert_non_null(strstr(csv, "\r\n2,2026-11-22T08:42:10Z,,2,,\r\n"));
}

static void test_retention_prunes_old_readings(void **state)
{
    struct testapp_fixture *f = *state;
    char json[64];
    add_device(f, "d8");
    f->app.config.retention_days = 1;
    clock_now = TEST_T0 - 3 * 86400;
    for (int s = 1; s <= 100; s++) {
        snprintf(json, sizeof json, "{\"SEQN\":%d}", s);
        assert_int_equal(post_reading(f, "d8", json), 201);
    }
    clock_now = TEST_T0;
    for (int s = 101; s <= 300; s++) {
        snprintf(json, sizeof json, "{\"SEQN\":%d}", s);
        assert_int_equal(post_reading(f, "d8", json), 201);
    }
    int64_t readings;
    assert_int_equal(store_reading_count(f->app.store, &readings), STORE_OK);
    if (store_needs(f->app.store) & STORE_NEEDS_PRUNE_BY_WRITERS)
        assert_int_equal(readings, 200); /* the 100 old ones went with the pass after 256 readings */
    else
        assert_int_equal(readings, 300); /* retention is the scheduled job's (provctl prune) */
}

static void test_bad_queries(void **state)
{
    struct testapp_fixture *f = *state;
    static const char *const bad[] = {"limit=0",  "limit=10001",    "since=2026-11-22", "until=x",
                                      "after=-1", "order=sideways", "bucket=0",         "format=pdf"};
    add_device(f, "d9");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(call(f, "GET", "/api/devices/d9/telemetry", bad[i], NULL, true), 400);
    assert_int_equal(call(f, "GET", "/api/devices/none/telemetry", NULL, NULL, true), 404);
    assert_int_equal(call(f, "GET", "/api/devices/d9/telemetry", NULL, NULL, false), 401);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unsigned_reading_checked_unread, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_and_replay, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_batch_of_envelopes, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_rejected_between_read_and_write, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_uniform_refusal, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_states_and_keys, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_seqn_reset, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_pages_and_ranges, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_buckets, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_csv_without_sink, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(test_retention_prunes_old_readings, testapp_setup_open,
                                        testapp_teardown),
        cmocka_unit_test_setup_teardown(test_bad_queries, testapp_setup_open, testapp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
