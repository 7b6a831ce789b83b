/* In-process tests of router_dispatch and every handler behind it: a real store on a temporary
 * SQLite file, a test clock, and answers checked by parsing their JSON bodies with json-c. */
#include "testapp.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <strings.h>

#include "isotime.h"
#include "validate.h"

#define INTERVAL 60 /* the poll interval testapp_open() configures */

/* An input a request must refuse with 400, and how the message must start (the field's name). */
struct refusal {
    const char *input, *field;
};

struct fixture {
    struct tempdb db;
    struct app app;
    struct response res;
    struct json_object *json;   /* the last answer's body, parsed; NULL when it had none */
    struct json_object *before; /* a device as it was, to compare with after a request */
    char auth[TOKEN_LEN + 8];   /* "Bearer " + the admin token */
    char header[1024];          /* the last value header() found */
};

/* The admin token itself, without "Bearer ". */
static const char *admin_token(const struct fixture *fx)
{
    return fx->auth + strlen("Bearer ");
}

/* One request; target is the path with an optional "?query". */
struct call {
    const char *method, *target, *authorization, *if_match, *if_none_match, *body;
    size_t body_len;   /* 0: strlen(body) */
    char *const *params; /* other FastCGI parameters ("HTTP_USER_AGENT=..."), NULL-terminated */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    testapp_open(&fx->db, &fx->app, &fx->res, fx->auth, sizeof fx->auth, REGISTRATION_APPROVE);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    json_object_put(fx->json);
    json_object_put(fx->before);
    testapp_close(&fx->db, &fx->app, &fx->res);
    free(fx);
    return 0;
}

/* Parses a whole body as JSON, failing the test when it is not. */
static struct json_object *parse_body(const char *body, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    bool whole =
        json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!whole)
        fail_msg("body is not JSON: %.*s", (int)len, body);
    return obj;
}

static struct json_object *member(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
    return v;
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v = member(o, key);
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
    struct json_object *v = member(o, key);
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static bool jbool(struct json_object *o, const char *key)
{
    struct json_object *v = member(o, key);
    assert_true(json_object_is_type(v, json_type_boolean));
    return json_object_get_boolean(v);
}

static bool jnull(struct json_object *o, const char *key)
{
    return member(o, key) == NULL;
}

/* Runs one request like the FastCGI loop does; every non-empty body must be JSON and every
 * error must be {"status":"NOK","message":...}. Returns the status. */
static int dispatch(struct fixture *fx, const struct call *c)
{
    char path[512], query[2048] = "";
    const char *q = strchr(c->target, '?');
    size_t path_len = q ? (size_t)(q - c->target) : strlen(c->target);
    assert_true(path_len < sizeof path);
    memcpy(path, c->target, path_len);
    path[path_len] = '\0';
    if (q)
        copy_text(query, sizeof query, q + 1);
    struct request req = {
        .method = c->method,
        .path = path,
        .query = query,
        .authorization = c->authorization,
        .if_match = c->if_match,
        .if_none_match = c->if_none_match,
        .body = c->body,
        .body_len = c->body && !c->body_len ? strlen(c->body) : c->body_len,
        .params = (char **)c->params,
    };
    response_reset(&fx->res);
    router_dispatch(&fx->app, &req, &fx->res);
    json_object_put(fx->json);
    fx->json = NULL; /* parse_body() may fail the test: teardown must not free this twice */
    if (fx->res.body_len)
        fx->json = parse_body(fx->res.body, fx->res.body_len);
    if (fx->res.status >= 400) {
        assert_non_null(fx->json);
        assert_string_equal(jstr(fx->json, "status"), "NOK");
        assert_true(strlen(jstr(fx->json, "message")) > 0);
    }
    return fx->res.status;
}

static int admin(struct fixture *fx, const char *method, const char *target, const char *body)
{
    return dispatch(
        fx, &(struct call){.method = method, .target = target, .authorization = fx->auth, .body = body});
}

static int anon(struct fixture *fx, const char *method, const char *target, const char *body)
{
    return dispatch(fx, &(struct call){.method = method, .target = target, .body = body});
}

/* The value of a response header, or NULL. */
static const char *header(struct fixture *fx, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *line = fx->res.headers; *line;) {
        const char *end = strstr(line, "\r\n");
        assert_non_null(end);
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':' && line[name_len + 1] == ' ') {
            size_t len = (size_t)(end - line) - name_len - 2;
            assert_true(len < sizeof fx->header);
            memcpy(fx->header, line + name_len + 2, len);
            fx->header[len] = '\0';
            return fx->header;
        }
        line = end + 2;
    }
    return NULL;
}

static void assert_message_starts(struct fixture *fx, const char *prefix)
{
    const char *message = jstr(fx->json, "message");
    if (strncmp(message, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", message, prefix);
}

static void assert_iso(struct json_object *o, const char *key, int64_t when)
{
    char text[ISOTIME_LEN + 1];
    isotime_format(when, text);
    assert_string_equal(jstr(o, key), text);
}

static void register_device(struct fixture *fx, const char *id)
{
    char target[128];
    snprintf(target, sizeof target, "/api/devices/%s", id);
    assert_int_equal(anon(fx, "POST", target, "{\"ipaddr\":\"10.0.0.7\",\"ssid\":\"home\"}"), 201);
}

/* The admin's view of one device; the parsed body stays in fx->json. */
/* The device as an admin sees it once the worker has written what it keeps back (heartbeat
 * times on PostgreSQL: its idle work writes them within half a second). */
static struct json_object *admin_view(struct fixture *fx, const char *id)
{
    store_flush(fx->app.store, true);
    char target[128];
    snprintf(target, sizeof target, "/api/devices/%s", id);
    assert_int_equal(admin(fx, "GET", target, NULL), 200);
    return fx->json;
}

/* Keeps the admin's view in fx->before, for comparing with the device after a request. */
static void snapshot(struct fixture *fx, const char *id)
{
    json_object_put(fx->before);
    fx->before = json_object_get(admin_view(fx, id));
}

static void assert_unchanged(struct fixture *fx, const char *id)
{
    if (!json_object_equal(fx->before, admin_view(fx, id)))
        fail_msg("changed: %s", json_object_to_json_string(fx->json));
}

static void api_root_and_health(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(anon(fx, "GET", "/api/", NULL), 200);
    assert_string_equal(jstr(fx->json, "message"), "REST API");
    assert_int_equal(anon(fx, "GET", "/api/health", NULL), 200);
    assert_string_equal(jstr(fx->json, "status"), "OK");
}

static void unknown_routes_404(void **state)
{
    struct fixture *fx = *state;
    static const char *const paths[] = {
        "/",
        "/api",
        "/api/nope",
        "/api/devices/",
        "/api/devices/a/b",
        "/api/devices/a/key/x",
        "/api/devices//key",
        "/api/devicesx",
        "/API/devices",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (admin(fx, "GET", paths[i], NULL) != 404)
            fail_msg("GET %s: %d", paths[i], fx->res.status);
    }
    assert_null(header(fx, "Allow"));
}

/* The methods an Allow header lists, as a bit set in the order of names[]. */
static unsigned allowed_methods(const char *allow)
{
    static const char *const names[] = {"GET", "POST", "PUT", "DELETE"};
    unsigned set = 0;
    char copy[128];
    copy_text(copy, sizeof copy, allow);
    for (char *save, *m = strtok_r(copy, ", ", &save); m; m = strtok_r(NULL, ", ", &save)) {
        size_t i = 0;
        while (i < 4 && strcmp(names[i], m) != 0)
            i++;
        if (i == 4 || set & 1u << i)
            fail_msg("Allow: %s", allow);
        set |= 1u << i;
    }
    return set;
}

static void method_not_allowed_405(void **state)
{
    struct fixture *fx = *state;
    enum { GET = 1, POST = 2, PUT = 4, DELETE = 8 };
    static const struct {
        const char *method, *path;
        unsigned allow;
    } cases[] = {
        {"PATCH", "/api/devices/dev1", GET | POST | PUT | DELETE},
        {"HEAD", "/api/devices/dev1", GET | POST | PUT | DELETE},
        {"DELETE", "/api/devices", GET},
        {"POST", "/api/devices", GET},
        {"GET", "/api/devices/dev1/key", POST},
        {"POST", "/api/health", GET},
        {"PUT", "/api/", GET},
        {"PUT", "/api/stats", GET},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* No token: the method is wrong whoever asks. */
        assert_int_equal(anon(fx, cases[i].method, cases[i].path, NULL), 405);
        const char *allow = header(fx, "Allow");
        assert_non_null(allow);
        if (allowed_methods(allow) != cases[i].allow)
            fail_msg("%s %s: Allow: %s", cases[i].method, cases[i].path, allow);
    }
}

static void bad_device_id_400(void **state)
{
    struct fixture *fx = *state;
    char target[256], id[128];
    static const char *const bad[] = {"bad id", "caf\xc3\xa9", "a%2Fb", "x'--", "a;b", "a@b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(target, sizeof target, "/api/devices/%s", bad[i]);
        assert_int_equal(anon(fx, "GET", target, NULL), 400);
        assert_message_starts(fx, "deviceid");
        assert_int_equal(anon(fx, "POST", target, "{}"), 400);
        assert_int_equal(admin(fx, "PUT", target, "{\"name\":\"x\"}"), 400);
    }
    snprintf(target, sizeof target, "/api/devices/%s", repeat(id, sizeof id, "a", DEVICE_ID_MAX + 1));
    assert_int_equal(anon(fx, "POST", target, "{}"), 400);
    assert_int_equal(admin(fx, "PUT", target, "{}"), 400);
    snprintf(target, sizeof target, "/api/devices/%s", repeat(id, sizeof id, "a", 100));
    assert_int_equal(anon(fx, "GET", target, NULL), 400);
    /* 64 characters is still an id: unknown, not malformed. */
    snprintf(target, sizeof target, "/api/devices/%s", repeat(id, sizeof id, "a", DEVICE_ID_MAX));
    assert_int_equal(anon(fx, "GET", target, NULL), 404);
    /* Nothing was created by any of these. */
    assert_int_equal(admin(fx, "GET", "/api/devices", NULL), 200);
    assert_int_equal(json_object_array_length(fx->json), 0);
}

static void admin_auth_401(void **state)
{
    struct fixture *fx = *state;
    char long_auth[400], long_token[300], basic[TOKEN_LEN + 8], lower[TOKEN_LEN + 8];
    snprintf(basic, sizeof basic, "Basic %s", admin_token(fx));
    snprintf(lower, sizeof lower, "bearer %s", admin_token(fx));
    snprintf(long_auth, sizeof long_auth, "Bearer %s", repeat(long_token, sizeof long_token, "a", 290));
    const char *refused[] = {
        NULL,
        "",
        "Bearer",
        "Bearer ",
        "Bearer provd_0000000000000000000000000000000000000000000000000000000000000000",
        basic,
        long_auth,
        admin_token(fx),
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct call c = {.method = "GET", .target = "/api/devices", .authorization = refused[i]};
        if (dispatch(fx, &c) != 401)
            fail_msg("Authorization #%zu: %d", i, fx->res.status);
        assert_non_null(header(fx, "WWW-Authenticate"));
    }
    assert_int_equal(anon(fx, "GET", "/api/stats", NULL), 401);
    assert_int_equal(anon(fx, "PUT", "/api/devices/dev1", "{}"), 401);
    assert_int_equal(anon(fx, "DELETE", "/api/devices/dev1", NULL), 401);
    assert_int_equal(anon(fx, "POST", "/api/devices/dev1/key", NULL), 401);
    /* The scheme is case-insensitive (RFC 9110 11.1). */
    assert_int_equal(
        dispatch(fx, &(struct call){.method = "GET", .target = "/api/devices", .authorization = lower}), 200);
    assert_int_equal(store_token_revoke(fx->app.store, "test"), STORE_OK);
    assert_int_equal(admin(fx, "GET", "/api/devices", NULL), 401);
}

/* An admin's GET reads one snapshot (router.c): however it ends, the read is over after it,
 * so the next write of the same connection goes through and sees what others committed. */
static void admin_reads_end_their_snapshot(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "snap1");
    const struct call reads[] = {
        {.method = "GET", .target = "/api/devices", .authorization = fx->auth},
        {.method = "GET", .target = "/api/stats", .authorization = fx->auth},
        {.method = "GET", .target = "/api/devices?sort=bogus", .authorization = fx->auth},
        {.method = "GET", .target = "/api/devices", .authorization = "Bearer nope"},
        {.method = "GET", .target = "/api/devices/bad%20id/telemetry", .authorization = fx->auth},
        {.method = "GET", .target = "/api/devices/nobody/telemetry", .authorization = fx->auth},
        {.method = "GET", .target = "/api/devices/snap1/telemetry", .authorization = fx->auth},
    };
    const int statuses[] = {200, 200, 400, 401, 400, 404, 200};
    char name[64];
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        if (dispatch(fx, &reads[i]) != statuses[i])
            fail_msg("read #%zu: %d", i, fx->res.status);
        snprintf(name, sizeof name, "{\"name\":\"after read %zu\"}", i);
        if (admin(fx, "PUT", "/api/devices/snap1", name) != 200)
            fail_msg("the write after read #%zu: %d", i, fx->res.status);
        assert_int_equal(admin(fx, "GET", "/api/devices?limit=1", NULL), 200);
        snprintf(name, sizeof name, "after read %zu", i);
        assert_string_equal(jstr(json_object_array_get_idx(fx->json, 0), "name"), name);
    }
}

static void token_in_query_refused(void **state)
{
    struct fixture *fx = *state;
    char target[256];
    static const char *const prefixes[] = {"/api/devices?access_token=", "/api/devices?token=",
                                           "/api/devices?limit=5&access_token=", "/api/stats?token="};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(target, sizeof target, "%s%s", prefixes[i], admin_token(fx));
        assert_int_equal(anon(fx, "GET", target, NULL), 401);
        /* Even with a valid header as well: the URL has leaked the token. */
        assert_int_equal(admin(fx, "GET", target, NULL), 401);
        assert_message_starts(fx, "tokens in the query string");
    }
    register_device(fx, "dev1");
    snprintf(target, sizeof target, "/api/devices/dev1?access_token=%s", admin_token(fx));
    assert_int_equal(admin(fx, "GET", target, NULL), 401);
    assert_int_equal(admin(fx, "GET", "/api/devices?tokenish=1", NULL), 200);
}

static void admin_get_is_not_a_heartbeat(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    clock_now = TEST_T0 + 100;
    struct json_object *d = admin_view(fx, "dev1");
    assert_string_equal(jstr(d, "deviceid"), "dev1");
    assert_string_equal(jstr(d, "state"), "pending");
    assert_string_equal(jstr(d, "ipaddr"), "10.0.0.7");
    assert_string_equal(jstr(d, "ssid"), "home");
    assert_iso(d, "lastseen", TEST_T0);
    assert_iso(d, "datec", TEST_T0);
    assert_true(jnull(d, "cfgsn_applied"));
    /* A wrong token is a 401, not a poll. */
    assert_int_equal(dispatch(fx, &(struct call){.method = "GET",
                                                 .target = "/api/devices/dev1",
                                                 .authorization = "Bearer nope"}),
                     401);
    assert_iso(admin_view(fx, "dev1"), "lastseen", TEST_T0);

    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 200);
    assert_int_equal(json_object_object_length(fx->json), 3);
    assert_int_equal(jint(fx->json, "cfgsn"), 0);
    assert_true(json_object_is_type(member(fx->json, "data"), json_type_object));
    assert_int_equal(jint(fx->json, "poll_interval"), INTERVAL);
    assert_iso(admin_view(fx, "dev1"), "lastseen", TEST_T0 + 100);
}

static void registration_201_then_200(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(
        anon(fx, "POST", "/api/devices/AA:BB:CC:DD:EE:FF", "{\"ipaddr\":\"192.168.4.2\",\"ssid\":\"home\"}"),
        201);
    assert_string_equal(jstr(fx->json, "status"), "OK");
    assert_string_equal(jstr(fx->json, "message"), "Device Registered");
    clock_now += 5;
    assert_int_equal(
        anon(fx, "POST", "/api/devices/AA:BB:CC:DD:EE:FF", "{\"ipaddr\":\"fe80::7\",\"ssid\":\"lab\"}"), 200);
    /* The device learns of itself only what it needs: nothing an admin sees. */
    const char *told[] = {"status", "message", "deviceid", "name", "cfgsn", "datec", "poll_interval"};
    assert_int_equal(json_object_object_length(fx->json), sizeof told / sizeof told[0]);
    for (size_t i = 0; i < sizeof told / sizeof told[0]; i++)
        member(fx->json, told[i]);
    assert_string_equal(jstr(fx->json, "deviceid"), "AA:BB:CC:DD:EE:FF");
    assert_iso(fx->json, "datec", TEST_T0);
    assert_string_equal(header(fx, "ETag"), "\"0\"");
    struct json_object *seen = admin_view(fx, "AA:BB:CC:DD:EE:FF");
    assert_string_equal(jstr(seen, "ipaddr"), "fe80::7");
    assert_string_equal(jstr(seen, "ssid"), "lab");
    assert_string_equal(jstr(seen, "state"), "pending");
    assert_iso(seen, "lastseen", TEST_T0 + 5);
    /* An empty body is {}: a known device keeps its address. */
    assert_int_equal(anon(fx, "POST", "/api/devices/AA:BB:CC:DD:EE:FF", NULL), 200);
    assert_string_equal(jstr(admin_view(fx, "AA:BB:CC:DD:EE:FF"), "ipaddr"), "fe80::7");
}

static void registration_validation(void **state)
{
    struct fixture *fx = *state;
    char body[256], ssid[64];
    static const struct refusal cases[] = {
        {"{\"ipaddr\":\"999.1.1.1\",\"ssid\":\"x\"}", "ipaddr"},
        {"{\"ipaddr\":\"fe80::1%eth0\"}", "ipaddr"},
        {"{\"ipaddr\":\"10.0.0.1\\u0000x\"}", "ipaddr"},
        {"{\"ipaddr\":5}", "ipaddr"},
        {"{\"ipaddr\":null}", "ipaddr"},
        {"{\"ssid\":[\"x\"]}", "ssid"},
        {"{\"ssid\":\"a\\u0000b\"}", "ssid"},
        {"[]", "body"},
        {"{\"ipaddr\":", "body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(anon(fx, "POST", "/api/devices/dev1", cases[i].input), 400);
        assert_message_starts(fx, cases[i].field);
    }
    snprintf(body, sizeof body, "{\"ssid\":\"%s\"}", repeat(ssid, sizeof ssid, "s", SSID_MAX + 1));
    assert_int_equal(anon(fx, "POST", "/api/devices/dev1", body), 400);
    assert_message_starts(fx, "ssid");
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 404);
    snprintf(body, sizeof body, "{\"ssid\":\"%s\"}", repeat(ssid, sizeof ssid, "s", SSID_MAX));
    assert_int_equal(anon(fx, "POST", "/api/devices/dev1", body), 201);
}

static void registration_policies(void **state)
{
    struct fixture *fx = *state;
    fx->app.config.registration = REGISTRATION_OPEN;
    register_device(fx, "open1");
    assert_string_equal(jstr(admin_view(fx, "open1"), "state"), "accepted");

    fx->app.config.registration = REGISTRATION_CLOSED;
    assert_int_equal(anon(fx, "POST", "/api/devices/stranger", "{\"ipaddr\":\"10.0.0.9\"}"), 403);
    assert_int_equal(anon(fx, "GET", "/api/devices/stranger", NULL), 404);
    assert_int_equal(admin(fx, "PUT", "/api/devices/invited", "{\"name\":\"ok\"}"), 201);
    assert_int_equal(anon(fx, "POST", "/api/devices/invited", "{\"ipaddr\":\"10.0.0.9\"}"), 200);
    assert_string_equal(jstr(admin_view(fx, "invited"), "ipaddr"), "10.0.0.9");
    assert_string_equal(jstr(fx->json, "state"), "accepted");

    fx->app.config.registration = REGISTRATION_APPROVE;
    register_device(fx, "newcomer");
    assert_string_equal(jstr(admin_view(fx, "newcomer"), "state"), "pending");
    /* Pending devices may poll. */
    assert_int_equal(anon(fx, "GET", "/api/devices/newcomer", NULL), 200);
}

/* An update client's check repeating what its device runs, as it does every time, writes nothing:
 * on SQLite it is answered while another connection holds the write lock, which a write would
 * wait for (BUSY_TIMEOUT_MS) and then fail; on PostgreSQL an update that changes nothing never
 * waits for a row's lock in any case. A new version is still recorded. */
static void ota_check_repeating_its_version_writes_nothing(void **state)
{
    struct fixture *fx = *state;
    const char *id = "5C:CF:7F:00:00:01";
    register_device(fx, id);
    assert_int_equal(admin(fx, "PUT", "/api/devices/5C:CF:7F:00:00:01", "{\"state\":\"accepted\"}"), 200);
    char version[64] = "HTTP_X_ESP8266_VERSION=1.0";
    char *const params[] = {"HTTP_USER_AGENT=ESP8266-http-Update",
                            "HTTP_X_ESP8266_STA_MAC=5C:CF:7F:00:00:01",
                            "HTTP_X_ESP8266_AP_MAC=5E:CF:7F:00:00:01",
                            "HTTP_X_ESP8266_FREE_SPACE=1000000",
                            "HTTP_X_ESP8266_SKETCH_SIZE=300000",
                            "HTTP_X_ESP8266_CHIP_SIZE=4194304",
                            "HTTP_X_ESP8266_SDK_VERSION=2.2.2-dev(38a443e)",
                            "HTTP_X_ESP8266_MODE=sketch",
                            version,
                            NULL};
    const struct call check = {.method = "GET", .target = "/api/ota", .params = params};
    assert_int_equal(dispatch(fx, &check), 304);
    assert_string_equal(jstr(admin_view(fx, id), "firmware_running"), "1.0");

    sqlite3 *other = NULL;
    if (!test_pg_base()) {
        assert_int_equal(sqlite3_open(fx->db.path, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    }
    assert_int_equal(dispatch(fx, &check), 304);
    if (other) {
        assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);
    }

    snprintf(version, sizeof version, "HTTP_X_ESP8266_VERSION=1.1");
    assert_int_equal(dispatch(fx, &check), 304);
    assert_string_equal(jstr(admin_view(fx, id), "firmware_running"), "1.1");
}

static void rejected_device_403(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"state\":\"rejected\"}"), 200);
    assert_string_equal(jstr(fx->json, "state"), "rejected");
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 403);
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1?cfgsn=0", NULL), 403);
    assert_int_equal(
        dispatch(fx,
                 &(struct call){.method = "GET", .target = "/api/devices/dev1", .if_none_match = "\"0\""}),
        403);
    assert_int_equal(anon(fx, "POST", "/api/devices/dev1", "{\"ipaddr\":\"10.0.0.8\"}"), 403);
    fx->app.config.registration = REGISTRATION_OPEN;
    assert_int_equal(anon(fx, "POST", "/api/devices/dev1", "{}"), 403);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"state\":\"accepted\"}"), 200);
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 200);
}

static void poll_config_and_applied(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(anon(fx, "GET", "/api/devices/ghost", NULL), 404);
    assert_string_equal(jstr(fx->json, "message"), "Device NOT Registered");
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"data\":{\"led\":1,\"mode\":\"on\"}}"), 200);
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1?cfgsn=1", NULL), 200);
    assert_string_equal(header(fx, "ETag"), "\"1\"");
    assert_int_equal(jint(fx->json, "cfgsn"), 1);
    struct json_object *data = member(fx->json, "data");
    assert_int_equal(jint(data, "led"), 1);
    assert_string_equal(jstr(data, "mode"), "on");
    assert_int_equal(jint(admin_view(fx, "dev1"), "cfgsn_applied"), 1);

    static const char *const bad[] = {
        "?cfgsn=abc", "?cfgsn=-1", "?cfgsn=", "?cfgsn=1.5", "?cfgsn=%zz", "?cfgsn=99999999999999999999"};
    clock_now += 10;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[64];
        snprintf(target, sizeof target, "/api/devices/dev1%s", bad[i]);
        assert_int_equal(anon(fx, "GET", target, NULL), 400);
        assert_message_starts(fx, "cfgsn");
    }
    struct json_object *d = admin_view(fx, "dev1");
    assert_int_equal(jint(d, "cfgsn_applied"), 1);
    assert_iso(d, "lastseen", TEST_T0); /* a refused poll is no heartbeat */
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 200);
    assert_int_equal(jint(admin_view(fx, "dev1"), "cfgsn_applied"), 1);
}

static int poll_with(struct fixture *fx, const char *if_none_match)
{
    return dispatch(
        fx, &(struct call){.method = "GET", .target = "/api/devices/dev1", .if_none_match = if_none_match});
}

static void poll_if_none_match(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"cfgsn\":5}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 5);
    static const char *const matching[] = {"\"5\"", "W/\"5\"", "\"3\", \"5\"", "\"5\",\"6\"", "*"};
    for (size_t i = 0; i < sizeof matching / sizeof matching[0]; i++) {
        clock_now += 1;
        if (poll_with(fx, matching[i]) != 304)
            fail_msg("If-None-Match: %s -> %d", matching[i], fx->res.status);
        assert_null(fx->json);
        assert_string_equal(header(fx, "ETag"), "\"5\"");
        assert_iso(admin_view(fx, "dev1"), "lastseen", clock_now); /* still a heartbeat */
    }
    static const char *const other[] = {"\"15\"", "\"50\"", "\"4\"", "5", "W/\"55\"", "\"\""};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        if (poll_with(fx, other[i]) != 200)
            fail_msg("If-None-Match: %s -> %d", other[i], fx->res.status);
        assert_int_equal(jint(fx->json, "cfgsn"), 5);
    }
}

static void put_changes_and_cfgsn(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(
        admin(fx, "PUT", "/api/devices/dev1",
              "{\"name\":\"Lamp\",\"data\":{\"led\":1},\"state\":\"accepted\",\"poll_interval\":30}"),
        200);
    assert_string_equal(jstr(fx->json, "name"), "Lamp");
    assert_string_equal(jstr(fx->json, "state"), "accepted");
    assert_int_equal(jint(fx->json, "cfgsn"), 1);
    assert_int_equal(jint(fx->json, "poll_interval"), 30);
    assert_int_equal(jint(member(fx->json, "data"), "led"), 1);
    assert_string_equal(header(fx, "ETag"), "\"1\"");
    /* The same data, written differently: no new configuration. */
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{ \"data\" : { \"led\" : 1 } }"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 1);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"data\":{\"led\":2}}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 2);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"cfgsn\":10}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 10);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"cfgsn\":3,\"data\":{\"led\":3}}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 11);
    /* A member provd does not know (a typo, a whole device sent back) is a 400 naming it, and
     * nothing of the body is applied. */
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"name\":\"new\",\"firmwar\":\"2.0\"}"), 400);
    assert_string_equal(jstr(fx->json, "message"), "unknown field \"firmwar\"");
    assert_int_equal(
        admin(fx, "PUT", "/api/devices/dev1", "{\"deviceid\":\"other\",\"lastseen\":\"x\",\"key\":\"k\"}"),
        400);
    assert_non_null(strstr(jstr(fx->json, "message"), "unknown field \""));
    admin_view(fx, "dev1");
    assert_string_not_equal(jstr(fx->json, "name"), "new");
    assert_false(jbool(fx->json, "has_key"));
    assert_int_equal(jint(fx->json, "cfgsn"), 11);
    /* A device's registration may carry more than provd reads (the original firmware does). */
    assert_int_equal(
        anon(fx, "POST", "/api/devices/dev1", "{\"ipaddr\":\"10.0.0.8\",\"ssid\":\"x\",\"fw\":\"1.2\"}"),
        200);
    /* PUT to an unknown id creates an accepted device. */
    assert_int_equal(admin(fx, "PUT", "/api/devices/made", "{\"name\":\"by hand\"}"), 201);
    assert_string_equal(jstr(fx->json, "deviceid"), "made");
    assert_string_equal(jstr(fx->json, "state"), "accepted");
    assert_true(jnull(fx->json, "lastseen"));
}

static void put_accepts_limits(void **state)
{
    struct fixture *fx = *state;
    char name[512], body[10000], big[9000];
    register_device(fx, "dev1");
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", repeat(name, sizeof name, "\xc3\xa9", NAME_MAX_CHARS));
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", body), 200);
    assert_string_equal(jstr(fx->json, "name"), name);
    /* {"s":"..."}: 8 bytes around the string; 8192 bytes in all is the most. */
    snprintf(body, sizeof body, "{\"data\":{\"s\":\"%s\"}}", repeat(big, sizeof big, "x", DATA_MAX - 8));
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", body), 200);
    assert_int_equal(json_object_get_string_len(member(member(fx->json, "data"), "s")), DATA_MAX - 8);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"poll_interval\":5}"), 200);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"poll_interval\":86400}"), 200);
    assert_int_equal(jint(fx->json, "poll_interval"), 86400);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"poll_interval\":null}"), 200);
    assert_int_equal(jint(fx->json, "poll_interval"), INTERVAL);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"data\":[1,\"two\",null]}"), 200);
    assert_int_equal(json_object_array_length(member(fx->json, "data")), 3);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"data\":\"text\"}"), 200);
    assert_string_equal(jstr(fx->json, "data"), "text");
}

/* A PUT refused with 400: the message starts with the field's name and nothing changed. */
static void assert_put_refused(struct fixture *fx, const char *body, size_t body_len, const char *field)
{
    snapshot(fx, "dev1");
    struct call c = {.method = "PUT",
                     .target = "/api/devices/dev1",
                     .authorization = fx->auth,
                     .body = body,
                     .body_len = body_len};
    if (dispatch(fx, &c) != 400)
        fail_msg("PUT %.80s: %d", body, fx->res.status);
    assert_message_starts(fx, field);
    assert_unchanged(fx, "dev1");
}

static void put_validation_names_the_field(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"name\":\"kept\",\"data\":{\"v\":1}}"), 200);
    static const struct refusal cases[] = {
        {"{\"name\":5}", "name "},
        {"{\"name\":null}", "name "},
        {"{\"name\":true}", "name "},
        {"{\"name\":\"a\\u0001b\"}", "name "},
        {"{\"name\":\"a\\u0085b\"}", "name "},
        {"{\"name\":\"tab\\there\"}", "name "},
        {"{\"data\":null}", "data "},
        {"{\"state\":\"gone\"}", "state "},
        {"{\"state\":\"Accepted\"}", "state "},
        {"{\"state\":\"accepted\\u0000x\"}", "state "},
        {"{\"state\":1}", "state "},
        {"{\"poll_interval\":4}", "poll_interval "},
        {"{\"poll_interval\":86401}", "poll_interval "},
        {"{\"poll_interval\":0}", "poll_interval "},
        {"{\"poll_interval\":-60}", "poll_interval "},
        {"{\"poll_interval\":\"60\"}", "poll_interval "},
        {"{\"poll_interval\":60.5}", "poll_interval "},
        {"{\"poll_interval\":99999999999999999999}", "poll_interval "},
        {"{\"cfgsn\":-1}", "cfgsn "},
        {"{\"cfgsn\":\"3\"}", "cfgsn "},
        {"{\"cfgsn\":1.5}", "cfgsn "},
        {"{\"cfgsn\":null}", "cfgsn "},
        {"{\"cfgsn\":18446744073709551615}", "cfgsn "},
        /* A later field's error leaves the earlier, valid ones unapplied too. */
        {"{\"name\":\"new\",\"data\":{\"v\":2},\"state\":\"nope\"}", "state "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_put_refused(fx, cases[i].input, 0, cases[i].field);

    char name[512], body[20000], big[10000];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}",
             repeat(name, sizeof name, "\xc3\xa9", NAME_MAX_CHARS + 1));
    assert_put_refused(fx, body, 0, "name ");
    snprintf(body, sizeof body, "{\"name\":\"%s\"}",
             repeat(name, sizeof name, "\xf0\x9f\x92\xa1", NAME_MAX_CHARS + 1));
    assert_put_refused(fx, body, 0, "name ");
    snprintf(body, sizeof body, "{\"data\":{\"s\":\"%s\"}}", repeat(big, sizeof big, "x", DATA_MAX - 7));
    assert_put_refused(fx, body, 0, "data ");
    snprintf(body, sizeof body, "{\"data\":\"%s\"}", repeat(big, sizeof big, "y", 9000));
    assert_put_refused(fx, body, 0, "data ");
}

static void put_refuses_bad_bodies(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    static const char *const bodies[] = {
        "[1]",
        "\"x\"",
        "5",
        "null",
        "true", /* not an object */
        "{\"name\":",
        "{",
        "}",
        "{\"name\" \"x\"}",
        "nul", /* not JSON */
        "{} x",
        "{}{}",
        "{\"name\":\"a\"},", /* trailing garbage */
        "{\"name\":\"\xff\"}",
        "{\"name\":\"\xc3\"}", /* invalid UTF-8 */
        "{\"data\":\"\xfe\"}",
        "{\"data\":\"\xe2\x82\"}",
        "{'name':'x'}",
        "{\"name\":\"x\",}", /* not strict JSON */
        "{\"data\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        assert_put_refused(fx, bodies[i], 0, "body ");
    static const char with_nul[] = "{\"name\":\"a\"}\0{\"name\":\"b\"}";
    assert_put_refused(fx, with_nul, sizeof with_nul - 1, "body ");
    static const char nul_inside[] = "{\"name\":\"a\0b\"}";
    assert_put_refused(fx, nul_inside, sizeof nul_inside - 1, "body ");
}

/* json-c's UTF-8 check only counts continuation bytes: overlong forms, surrogates and code
 * points past U+10FFFF get through it. None of them may be stored and sent back out; the 400
 * may name the field or the body. */
static void lax_utf8_is_refused(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    static const char *const sequences[] = {"\xc0\xaf",     "\xe0\x80\xaf",     "\xed\xa0\x80",
                                            "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf0\x80\x80\xaf"};
    char body[128];
    for (size_t i = 0; i < sizeof sequences / sizeof sequences[0]; i++) {
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", sequences[i]);
        assert_put_refused(fx, body, 0, "");
        snprintf(body, sizeof body, "{\"data\":{\"s\":\"%s\"}}", sequences[i]);
        assert_put_refused(fx, body, 0, "");
        snprintf(body, sizeof body, "{\"data\":{\"%s\":1}}", sequences[i]);
        assert_put_refused(fx, body, 0, "");
        snprintf(body, sizeof body, "{\"ssid\":\"%s\"}", sequences[i]);
        if (anon(fx, "POST", "/api/devices/dev1", body) != 400)
            fail_msg("POST %s -> %d", body, fx->res.status);
    }
    assert_string_equal(jstr(admin_view(fx, "dev1"), "ssid"), "home");
}

static int put_if_match(struct fixture *fx, const char *if_match, const char *body)
{
    return dispatch(fx, &(struct call){.method = "PUT",
                                       .target = "/api/devices/dev1",
                                       .authorization = fx->auth,
                                       .if_match = if_match,
                                       .body = body});
}

static void put_if_match_412(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(put_if_match(fx, "\"0\"", "{\"data\":{\"v\":1}}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 1);
    snapshot(fx, "dev1");
    assert_int_equal(put_if_match(fx, "\"0\"", "{\"data\":{\"v\":2},\"name\":\"lost\"}"), 412);
    assert_unchanged(fx, "dev1");
    static const char *const malformed[] = {"abc",          "\"1",    "1",
                                            "\"-1\"",       "\"\"",   "W/\"1\"",
                                            "\"1\", \"2\"", "\"1x\"", "\"99999999999999999999999\""};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        if (put_if_match(fx, malformed[i], "{\"data\":{\"v\":3}}") != 400)
            fail_msg("If-Match: %s -> %d", malformed[i], fx->res.status);
        assert_message_starts(fx, "If-Match");
    }
    assert_unchanged(fx, "dev1");
    assert_int_equal(put_if_match(fx, "\"1\"", "{\"data\":{\"v\":4}}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 2);
    assert_int_equal(put_if_match(fx, "*", "{\"data\":{\"v\":5}}"), 200);
    assert_int_equal(jint(fx->json, "cfgsn"), 3);
}

/* If-Match names a version the client saw: when the device is gone (deleted meanwhile) there is
 * no current version to match, so the PUT fails (RFC 9110 13.1.1) instead of re-creating it. */
static void put_if_match_on_missing_device_412(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "DELETE", "/api/devices/dev1", NULL), 204);
    assert_int_equal(put_if_match(fx, "\"0\"", "{\"name\":\"edited\"}"), 412);
    assert_int_equal(admin(fx, "GET", "/api/devices/dev1", NULL), 404);
}

/* Follows Link: <...>; rel="next" from target, collecting the ids of every page. */
static int walk_pages(struct fixture *fx, const char *target, char ids[][DEVICE_ID_MAX + 1], int max,
                      int *links)
{
    char next[600];
    int n = 0;
    copy_text(next, sizeof next, target);
    for (*links = 0;; (*links)++) {
        assert_int_equal(admin(fx, "GET", next, NULL), 200);
        size_t len = json_object_array_length(fx->json);
        for (size_t i = 0; i < len; i++) {
            assert_true(n < max);
            copy_text(ids[n++], DEVICE_ID_MAX + 1, jstr(json_object_array_get_idx(fx->json, i), "deviceid"));
        }
        const char *link = header(fx, "Link");
        if (!link)
            return n;
        const char *end = strstr(link, ">; rel=\"next\"");
        assert_true(link[0] == '<' && end && end[13] == '\0');
        assert_true((size_t)(end - link - 1) < sizeof next);
        memcpy(next, link + 1, end - link - 1);
        next[end - link - 1] = '\0';
        assert_true(*links < 20);
    }
}

static void list_paging_with_link(void **state)
{
    struct fixture *fx = *state;
    static const char *const order[] = {"a:1", "b.2", "c_3", "d-4", "e5"};
    for (int i = 4; i >= 0; i--)
        register_device(fx, order[i]);
    char ids[8][DEVICE_ID_MAX + 1];
    int links;
    assert_int_equal(walk_pages(fx, "/api/devices?limit=2", ids, 8, &links), 5);
    assert_int_equal(links, 2);
    for (int i = 0; i < 5; i++)
        assert_string_equal(ids[i], order[i]);
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=2", NULL), 200);
    assert_string_equal(header(fx, "Link"), "</api/devices?limit=2&after=b.2>; rel=\"next\"");
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=2&after=a%3A1", NULL), 200);
    assert_string_equal(jstr(json_object_array_get_idx(fx->json, 0), "deviceid"), "b.2");
    assert_int_equal(admin(fx, "GET", "/api/devices", NULL), 200);
    assert_int_equal(json_object_array_length(fx->json), 5);
    assert_null(header(fx, "Link"));
}

static void list_link_keeps_filters(void **state)
{
    struct fixture *fx = *state;
    static const char *const ids_in[] = {"n1", "n2", "n3", "n4"};
    for (int i = 0; i < 4; i++)
        register_device(fx, ids_in[i]);
    assert_int_equal(admin(fx, "PUT", "/api/devices/n1", "{\"name\":\"Lamp & Co/1\"}"), 200);
    assert_int_equal(admin(fx, "PUT", "/api/devices/n3", "{\"name\":\"lamp & co #3\"}"), 200);
    assert_int_equal(admin(fx, "PUT", "/api/devices/n4", "{\"name\":\"LAMP & CO\",\"state\":\"accepted\"}"),
                     200);

    assert_int_equal(admin(fx, "GET", "/api/devices?limit=1&q=lamp+%26+co", NULL), 200);
    assert_string_equal(header(fx, "Link"),
                        "</api/devices?limit=1&after=n1&q=lamp%20%26%20co>; rel=\"next\"");
    char ids[8][DEVICE_ID_MAX + 1];
    int links;
    assert_int_equal(walk_pages(fx, "/api/devices?limit=1&q=lamp+%26+co", ids, 8, &links), 3);
    assert_string_equal(ids[0], "n1");
    assert_string_equal(ids[1], "n3");
    assert_string_equal(ids[2], "n4");

    assert_int_equal(walk_pages(fx, "/api/devices?limit=1&state=pending&online=true&q=Lamp", ids, 8, &links),
                     2);
    assert_string_equal(ids[0], "n1");
    assert_string_equal(ids[1], "n3");
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=1&state=pending&online=true&q=Lamp", NULL), 200);
    const char *link = header(fx, "Link");
    assert_non_null(strstr(link, "state=pending"));
    assert_non_null(strstr(link, "online=true"));
    assert_non_null(strstr(link, "q=Lamp"));
}

static void list_query_validation(void **state)
{
    struct fixture *fx = *state;
    char target[512], q[400];
    static const struct refusal cases[] = {
        {"limit=0", "limit "},
        {"limit=1001", "limit "},
        {"limit=abc", "limit "},
        {"limit=-1", "limit "},
        {"limit=", "limit "},
        {"limit=1.5", "limit "},
        {"limit=99999999", "limit "},
        {"after=bad%20id", "after "},
        {"after=%zz", "after "},
        {"state=deleted", "state "},
        {"online=maybe", "online "},
        {"online=", "online "},
        {"q=%00", "q "},
        {"q=a%0Ab", "q "},
        {"sort=", "sort "},
        {"sort=Name", "sort "},
        {"sort=name%20", "sort "},
        {"sort=id", "sort "},
        {"sort=liveness", "sort "},
        {"sort=name,deviceid", "sort "},
        {"sort=name%3B+DROP+TABLE+devices", "sort "},
        {"order=", "order "},
        {"order=DESC", "order "},
        {"order=up", "order "},
        {"sort=name&order=descending", "order "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(target, sizeof target, "/api/devices?%s", cases[i].input);
        if (admin(fx, "GET", target, NULL) != 400)
            fail_msg("%s -> %d", target, fx->res.status);
        assert_message_starts(fx, cases[i].field);
    }
    snprintf(target, sizeof target, "/api/devices?q=%s", repeat(q, sizeof q, "q", 65));
    assert_int_equal(admin(fx, "GET", target, NULL), 400);
    snprintf(target, sizeof target, "/api/devices?q=%s", repeat(q, sizeof q, "q", 64));
    assert_int_equal(admin(fx, "GET", target, NULL), 200);
    /* The limit is 64 characters, as the message says, not 64 bytes. */
    snprintf(target, sizeof target, "/api/devices?q=%s", repeat(q, sizeof q, "%C3%A9", 64));
    if (admin(fx, "GET", target, NULL) != 200)
        fail_msg("q of 64 two-byte characters: %s", jstr(fx->json, "message"));
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=1", NULL), 200);
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=1000&online=false&state=rejected", NULL), 200);
}

/* ?sort=&order= across pages: the Link keeps them (and the filters); the defaults are left out. */
static void list_sorted_link_keeps_sort(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *id, *name;
    } fleet[] = {{"a1", "Kitchen"}, {"a2", "Attic"}, {"a3", "Kitchen"}, {"a4", "Kitchen"}, {"a5", "Cellar"}};
    for (int i = 0; i < 5; i++) {
        char target[64], body[64];
        register_device(fx, fleet[i].id);
        snprintf(target, sizeof target, "/api/devices/%s", fleet[i].id);
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", fleet[i].name);
        assert_int_equal(admin(fx, "PUT", target, body), 200);
    }
    char ids[8][DEVICE_ID_MAX + 1];
    int links;
    assert_int_equal(walk_pages(fx, "/api/devices?limit=2&sort=name&order=desc", ids, 8, &links), 5);
    assert_int_equal(links, 2);
    static const char *const by_name_desc[] = {"a4", "a3", "a1", "a5", "a2"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(ids[i], by_name_desc[i]);
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=2&sort=name&order=desc", NULL), 200);
    assert_string_equal(header(fx, "Link"),
                        "</api/devices?limit=2&after=a3&sort=name&order=desc>; rel=\"next\"");
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=1&q=kitchen&sort=datec", NULL), 200);
    assert_string_equal(header(fx, "Link"),
                        "</api/devices?limit=1&after=a1&q=kitchen&sort=datec>; rel=\"next\"");
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=2&sort=deviceid&order=asc", NULL), 200);
    assert_string_equal(header(fx, "Link"), "</api/devices?limit=2&after=a2>; rel=\"next\"");
    assert_int_equal(walk_pages(fx, "/api/devices?limit=2&order=desc", ids, 8, &links), 5);
    assert_string_equal(ids[0], "a5");
    assert_string_equal(ids[4], "a1");

    /* The cursor device deleted between pages: a 400 that says so, not a silent end. */
    assert_int_equal(admin(fx, "DELETE", "/api/devices/a3", NULL), 204);
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=2&sort=name&order=desc&after=a3", NULL), 400);
    assert_message_starts(fx, "after ");
    assert_int_equal(admin(fx, "GET", "/api/devices?limit=2&after=a3", NULL), 200);
    assert_string_equal(jstr(json_object_array_get_idx(fx->json, 0), "deviceid"), "a4");
}

/* The liveness the admin sees for dev1 at a given time. */
static const char *liveness_at(struct fixture *fx, int64_t when)
{
    clock_now = when;
    struct json_object *d = admin_view(fx, "dev1");
    const char *live = jstr(d, "liveness");
    assert_true(jbool(d, "online") == (strcmp(live, "online") == 0));
    return live;
}

static size_t online_count_at(struct fixture *fx, int64_t when)
{
    clock_now = when;
    assert_int_equal(admin(fx, "GET", "/api/devices?online=true", NULL), 200);
    return json_object_array_length(fx->json);
}

static void liveness_follows_the_clock(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    struct json_object *d = admin_view(fx, "dev1");
    assert_iso(d, "next_expected", TEST_T0 + INTERVAL);
    assert_int_equal(jint(d, "poll_interval"), INTERVAL);
    assert_string_equal(liveness_at(fx, TEST_T0), "online");
    assert_string_equal(liveness_at(fx, TEST_T0 + 2 * INTERVAL + 10), "online");
    assert_string_equal(liveness_at(fx, TEST_T0 + 2 * INTERVAL + 11), "overdue");
    assert_string_equal(liveness_at(fx, TEST_T0 + 5 * INTERVAL), "overdue");
    assert_string_equal(liveness_at(fx, TEST_T0 + 5 * INTERVAL + 1), "offline");
    /* The list's online filter draws the same line. */
    assert_int_equal(online_count_at(fx, TEST_T0 + 2 * INTERVAL + 10), 1);
    assert_int_equal(online_count_at(fx, TEST_T0 + 2 * INTERVAL + 11), 0);

    clock_now = TEST_T0;
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"poll_interval\":10}"), 200);
    assert_iso(fx->json, "next_expected", TEST_T0 + 10);
    assert_string_equal(liveness_at(fx, TEST_T0 + 30), "online");
    assert_string_equal(liveness_at(fx, TEST_T0 + 31), "overdue");
    assert_string_equal(liveness_at(fx, TEST_T0 + 50), "overdue");
    assert_string_equal(liveness_at(fx, TEST_T0 + 51), "offline");
    assert_int_equal(online_count_at(fx, TEST_T0 + 30), 1);
    assert_int_equal(online_count_at(fx, TEST_T0 + 31), 0);
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 200);
    assert_int_equal(jint(fx->json, "poll_interval"), 10);
    assert_string_equal(liveness_at(fx, TEST_T0 + 51), "online"); /* the poll just now */

    assert_int_equal(admin(fx, "PUT", "/api/devices/never", "{}"), 201);
    assert_string_equal(jstr(fx->json, "liveness"), "offline");
    assert_false(jbool(fx->json, "online"));
    assert_true(jnull(fx->json, "lastseen"));
    assert_true(jnull(fx->json, "next_expected"));
}

static void stats_counts(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(admin(fx, "GET", "/api/stats", NULL), 200);
    assert_int_equal(jint(fx->json, "devices"), 0);
    clock_now = TEST_T0 - 1000;
    register_device(fx, "old");
    clock_now = TEST_T0;
    register_device(fx, "fresh");
    assert_int_equal(admin(fx, "PUT", "/api/devices/made", "{}"), 201);
    assert_int_equal(admin(fx, "GET", "/api/stats", NULL), 200);
    assert_int_equal(jint(fx->json, "devices"), 3);
    assert_int_equal(jint(fx->json, "online"), 1);
    assert_int_equal(jint(fx->json, "pending"), 2);
    assert_int_equal(jint(fx->json, "readings"), 0);
}

static void key_is_shown_once(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(admin(fx, "POST", "/api/devices/dev1/key", NULL), 404);
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "POST", "/api/devices/dev1/key", NULL), 201);
    char key[DEVICE_KEY_LEN + 1];
    copy_text(key, sizeof key, jstr(fx->json, "key"));
    assert_int_equal(strlen(key), DEVICE_KEY_LEN);
    assert_int_equal(strspn(key, "0123456789abcdef"), DEVICE_KEY_LEN);
    assert_string_equal(jstr(fx->json, "deviceid"), "dev1");

    assert_true(jbool(admin_view(fx, "dev1"), "has_key"));
    assert_false(json_object_object_get_ex(fx->json, "key", NULL));
    assert_null(strstr(fx->res.body, key));
    assert_int_equal(admin(fx, "GET", "/api/devices", NULL), 200);
    assert_null(strstr(fx->res.body, key));
    /* A keyed device's unsigned calls are refused (device_trust.h). */
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 401);
    assert_null(strstr(fx->res.body, key));
    assert_int_equal(anon(fx, "POST", "/api/devices/dev1", "{}"), 401);
    assert_null(strstr(fx->res.body, key));
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"name\":\"k\"}"), 200);
    assert_null(strstr(fx->res.body, key));

    assert_int_equal(admin(fx, "POST", "/api/devices/dev1/key", NULL), 201);
    assert_string_not_equal(jstr(fx->json, "key"), key);
}

static void delete_then_404(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(admin(fx, "DELETE", "/api/devices/dev1", NULL), 404);
    register_device(fx, "dev1");
    register_device(fx, "dev2");
    assert_int_equal(admin(fx, "DELETE", "/api/devices/dev1", NULL), 204);
    assert_null(fx->json);
    assert_int_equal(fx->res.body_len, 0);
    assert_int_equal(admin(fx, "DELETE", "/api/devices/dev1", NULL), 404);
    assert_int_equal(admin(fx, "GET", "/api/devices/dev1", NULL), 404);
    assert_int_equal(anon(fx, "GET", "/api/devices/dev1", NULL), 404);
    assert_int_equal(admin(fx, "GET", "/api/devices", NULL), 200);
    assert_int_equal(json_object_array_length(fx->json), 1);
    /* It may register again, as a new device. */
    register_device(fx, "dev1");
}

static void hostile_text_stored_literally(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "dev1");
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1",
                           "{\"name\":\"'; DROP TABLE devices; --\",\"data\":{\"x\":\"\\\" OR 1=1; --\"}}"),
                     200);
    assert_int_equal(anon(fx, "POST", "/api/devices/dev2", "{\"ssid\":\"' OR '1'='1\"}"), 201);
    struct json_object *d = admin_view(fx, "dev1");
    assert_string_equal(jstr(d, "name"), "'; DROP TABLE devices; --");
    assert_string_equal(jstr(member(d, "data"), "x"), "\" OR 1=1; --");
    assert_string_equal(jstr(admin_view(fx, "dev2"), "ssid"), "' OR '1'='1");
    assert_int_equal(admin(fx, "GET", "/api/devices?q=%27%3B+DROP", NULL), 200);
    assert_int_equal(json_object_array_length(fx->json), 1);
    assert_int_equal(admin(fx, "GET", "/api/devices", NULL), 200);
    assert_int_equal(json_object_array_length(fx->json), 2);
}

/* GET /api/audit's entries (newest first) into fx->json; how many there are. */
static size_t audit_entries(struct fixture *fx, const char *query)
{
    char target[256];
    snprintf(target, sizeof target, "/api/audit%s", query);
    assert_int_equal(admin(fx, "GET", target, NULL), 200);
    return json_object_array_length(fx->json);
}

static struct json_object *newest_entry(struct fixture *fx, const char *query)
{
    assert_true(audit_entries(fx, query) > 0);
    return json_object_array_get_idx(fx->json, 0);
}

/* Each kind of admin change makes one entry, with the token's name, what and when, and the device
 * before and after; a change refused (400, 412, 404) makes none. */
static void admin_changes_are_audited(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"name\":\"one\",\"data\":{\"led\":1}}"), 201);
    struct json_object *e = newest_entry(fx, "");
    assert_int_equal(json_object_array_length(fx->json), 1);
    assert_string_equal(jstr(e, "action"), "device.create");
    assert_string_equal(jstr(e, "target"), "dev1");
    assert_string_equal(jstr(e, "actor"), "test");
    assert_string_equal(jstr(e, "via"), "api");
    assert_iso(e, "at", TEST_T0);
    assert_true(jnull(e, "before"));
    assert_string_equal(jstr(member(e, "after"), "name"), "one");
    assert_int_equal(jint(member(member(e, "after"), "data"), "led"), 1);

    clock_now = TEST_T0 + 5;
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"data\":{\"led\":2},\"poll_interval\":30}"), 200);
    e = newest_entry(fx, "");
    assert_string_equal(jstr(e, "action"), "device.update");
    assert_iso(e, "at", TEST_T0 + 5);
    assert_int_equal(jint(member(member(e, "before"), "data"), "led"), 1);
    assert_int_equal(jint(member(e, "before"), "cfgsn"), 0);
    assert_true(jnull(member(e, "before"), "poll_interval"));
    assert_int_equal(jint(member(member(e, "after"), "data"), "led"), 2);
    assert_int_equal(jint(member(e, "after"), "cfgsn"), 1);
    assert_int_equal(jint(member(e, "after"), "poll_interval"), 30);

    /* Refused: nothing recorded, nothing changed. */
    assert_int_equal(dispatch(fx, &(struct call){.method = "PUT", .target = "/api/devices/dev1",
                                                 .authorization = fx->auth, .if_match = "\"0\"",
                                                 .body = "{\"name\":\"late\"}"}),
                     412);
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev1", "{\"state\":\"gone\"}"), 400);
    assert_int_equal(admin(fx, "DELETE", "/api/devices/ghost", NULL), 404);
    assert_int_equal(admin(fx, "POST", "/api/devices/ghost/key", NULL), 404);
    assert_int_equal(audit_entries(fx, ""), 2);

    assert_int_equal(admin(fx, "POST", "/api/devices/dev1/key", NULL), 201);
    char key[64];
    copy_text(key, sizeof key, jstr(fx->json, "key"));
    e = newest_entry(fx, "");
    assert_string_equal(jstr(e, "action"), "device.key");
    assert_true(jnull(e, "before"));
    assert_string_equal(jstr(member(e, "after"), "key"), "changed");
    assert_null(strstr(fx->res.body, key));

    assert_int_equal(admin(fx, "DELETE", "/api/devices/dev1", NULL), 204);
    e = newest_entry(fx, "");
    assert_string_equal(jstr(e, "action"), "device.delete");
    assert_string_equal(jstr(member(e, "before"), "name"), "one");
    assert_true(jnull(e, "after"));
    assert_int_equal(audit_entries(fx, "?device=dev1"), 4);
    assert_null(strstr(fx->res.body, admin_token(fx)));

    /* A name with quotes, a backslash, markup and non-ASCII is kept as the text it is. */
    assert_int_equal(admin(fx, "PUT", "/api/devices/dev2", "{\"name\":\"a \\\"q\\\" \\\\ <b> \u00e9\"}"), 201);
    assert_string_equal(jstr(member(newest_entry(fx, ""), "after"), "name"), "a \"q\" \\ <b> \u00e9");
}

/* Pages of the trail: limit, the Link to the next page with its after cursor, since and device. */
static void audit_pages_and_refusals(void **state)
{
    struct fixture *fx = *state;
    for (int i = 0; i < 3; i++) {
        clock_now = TEST_T0 + i * 60;
        assert_int_equal(admin(fx, "PUT", "/api/devices/a", "{\"name\":\"x\"}"), i == 0 ? 201 : 200);
        assert_int_equal(admin(fx, "PUT", "/api/devices/b", "{\"name\":\"y\"}"), i == 0 ? 201 : 200);
    }
    assert_int_equal(audit_entries(fx, "?limit=4&device=a"), 3);
    assert_null(header(fx, "Link"));
    assert_int_equal(audit_entries(fx, "?limit=2&device=a"), 2);
    int64_t last = jint(json_object_array_get_idx(fx->json, 1), "id");
    char link[128];
    snprintf(link, sizeof link, "</api/audit?limit=2&after=%lld&device=a>; rel=\"next\"", (long long)last);
    assert_string_equal(header(fx, "Link"), link);
    char next[64];
    snprintf(next, sizeof next, "?limit=2&device=a&after=%lld", (long long)last);
    assert_int_equal(audit_entries(fx, next), 1);
    assert_true(jint(json_object_array_get_idx(fx->json, 0), "id") < last);
    char since[ISOTIME_LEN + 1], query[64];
    isotime_format(TEST_T0 + 60, since);
    snprintf(query, sizeof query, "?since=%s", since);
    assert_int_equal(audit_entries(fx, query), 4);

    static const struct refusal refused[] = {
        {"?limit=0", "limit"},        {"?limit=501", "limit"},     {"?limit=x", "limit"},
        {"?after=0", "after"},        {"?after=-1", "after"},      {"?after=abc", "after"},
        {"?since=yesterday", "since"}, {"?device=no%20way", "device"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char target[128];
        snprintf(target, sizeof target, "/api/audit%s", refused[i].input);
        assert_int_equal(admin(fx, "GET", target, NULL), 400);
        assert_message_starts(fx, refused[i].field);
    }
    assert_int_equal(anon(fx, "GET", "/api/audit", NULL), 401);
    assert_int_equal(anon(fx, "GET", "/api/overview", NULL), 401);
}

/* The overview: counts by state and liveness, the devices gone offline, the readings' last id. */
static void overview_counts(void **state)
{
    struct fixture *fx = *state;
    register_device(fx, "fresh");
    clock_now = TEST_T0 - 1000;
    register_device(fx, "gone");
    clock_now = TEST_T0;
    assert_int_equal(admin(fx, "PUT", "/api/devices/gone", "{\"state\":\"accepted\"}"), 200);
    store_flush(fx->app.store, true);
    assert_int_equal(admin(fx, "GET", "/api/overview", NULL), 200);
    assert_iso(fx->json, "at", TEST_T0);
    assert_int_equal(jint(fx->json, "devices"), 2);
    assert_int_equal(jint(member(fx->json, "by_state"), "pending"), 1);
    assert_int_equal(jint(member(fx->json, "by_state"), "accepted"), 1);
    assert_int_equal(jint(member(fx->json, "by_liveness"), "online"), 1);
    assert_int_equal(jint(member(fx->json, "by_liveness"), "offline"), 1);
    assert_true(jnull(fx->json, "by_firmware"));
    struct json_object *offline = member(fx->json, "recently_offline");
    assert_int_equal(json_object_array_length(offline), 1);
    struct json_object *gone = json_object_array_get_idx(offline, 0);
    assert_string_equal(jstr(gone, "deviceid"), "gone");
    assert_iso(gone, "lastseen", TEST_T0 - 1000);
    assert_iso(gone, "offline_since", TEST_T0 - 1000 + 5 * INTERVAL);
    assert_int_equal(jint(member(fx->json, "readings"), "last_id"), 0);

    /* A slow read (here made to look 100 ms long) is kept for 20 reads' time: 2 s. */
    fx->app.offline.micros = 100000;
    clock_now = TEST_T0 - 2000;
    register_device(fx, "gone-too");
    clock_now = TEST_T0;
    store_flush(fx->app.store, true);
    assert_int_equal(admin(fx, "GET", "/api/overview", NULL), 200);
    assert_int_equal(json_object_array_length(member(fx->json, "recently_offline")), 1);
    assert_int_equal(jint(member(fx->json, "by_liveness"), "offline"), 2);
    clock_now = TEST_T0 + 2;
    assert_int_equal(admin(fx, "GET", "/api/overview", NULL), 200);
    assert_int_equal(json_object_array_length(member(fx->json, "recently_offline")), 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(api_root_and_health),
        T(unknown_routes_404),
        T(method_not_allowed_405),
        T(bad_device_id_400),
        T(admin_auth_401),
        T(admin_reads_end_their_snapshot),
        T(token_in_query_refused),
        T(admin_get_is_not_a_heartbeat),
        T(registration_201_then_200),
        T(registration_validation),
        T(registration_policies),
        T(rejected_device_403),
        T(ota_check_repeating_its_version_writes_nothing),
        T(poll_config_and_applied),
        T(poll_if_none_match),
        T(put_changes_and_cfgsn),
        T(put_accepts_limits),
        T(put_validation_names_the_field),
        T(put_refuses_bad_bodies),
        T(lax_utf8_is_refused),
        T(put_if_match_412),
        T(put_if_match_on_missing_device_412),
        T(list_paging_with_link),
        T(list_link_keeps_filters),
        T(list_query_validation),
        T(list_sorted_link_keeps_sort),
        T(liveness_follows_the_clock),
        T(stats_counts),
        T(key_is_shown_once),
        T(delete_then_404),
        T(hostile_text_stored_literally),
        T(admin_changes_are_audited),
        T(audit_pages_and_refusals),
        T(overview_counts),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
