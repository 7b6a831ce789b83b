/* libFuzzer target for what a client controls: arbitrary bytes as the body, query string or
 * If-Match/If-None-Match header of four requests, through router_dispatch, invariants checked. */
#include <iconv.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "secret.h"

#define DEVICE       "fz"
#define DEVICE_CFGSN 3
#define DEVICE_DATA  "{\"a\":1}"
#define FUZZ_NOW     INT64_C(1795336930)
#define TEXT_MAX     4096 /* query strings and header values longer than this are cut */

/* Input byte 0: bits 0-1 choose the request, bits 2-3 where the rest of the input goes. */
enum target { PUT_DEVICE, REGISTER, LIST, POLL };
enum placement { IN_BODY, IN_QUERY, IN_IF_MATCH, IN_IF_NONE_MATCH };

static struct app app;
static struct response res;
static char authorization[TOKEN_LEN + 8];
static iconv_t utf8_decoder;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what)
{
    fprintf(stderr, "fuzz_request: invariant violated: %s\nstatus %d, headers:\n%.*s\nbody: %.*s\n", what,
            res.status, (int)res.headers_len, res.headers, (int)res.body_len, res.body ? res.body : "");
    abort();
}

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            violated(#cond);                                                                                 \
    } while (0)

static int64_t fixed_clock(void)
{
    return FUZZ_NOW;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256], token[TOKEN_LEN + 1];
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    app.config =
        (struct config){.db_path = ":memory:", .registration = REGISTRATION_APPROVE, .poll_interval = 60};
    app.now = fixed_clock;
    app.store = store_open(app.config.db_path, err, sizeof err);
    if (!app.store || !secret_new_token(token)) {
        fprintf(stderr, "fuzz_request: cannot start: %s\n", app.store ? "no randomness" : err);
        abort();
    }
    secret_sha256(token, strlen(token), hash);
    snprintf(authorization, sizeof authorization, "Bearer %s", token);
    static const char *const others[] = {"fy", "fz-1", "fz:2", "g.3", "Kitchen"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (store_device_register(app.store, others[i], "10.0.0.1", "net", NULL,
                                  REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), FUZZ_NOW - 100 * (int64_t)i,
                                  NULL, NULL) != STORE_CREATED)
            violated("a list device could not be made");
    if (store_token_add(app.store, "fuzz", hash, FUZZ_NOW, 0) != STORE_OK)
        violated("the admin token could not be stored");
    utf8_decoder = iconv_open("UTF-32LE", "UTF-8");
    if (utf8_decoder == (iconv_t)-1)
        violated("no UTF-8 decoder");
    response_init(&res);
    return 0;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), by glibc's decoder. */
static bool utf8_valid(const char *text, size_t len)
{
    char out[4096];
    char *in = (char *)text;
    iconv(utf8_decoder, NULL, NULL, NULL, NULL);
    while (len > 0) {
        char *o = out;
        size_t room = sizeof out;
        if (iconv(utf8_decoder, &in, &len, &o, &room) == (size_t)-1 && (room == sizeof out || len == 0))
            return false;
    }
    return true;
}

/* The device every input starts from, so that each run is deterministic. */
static void reset_device(void)
{
    struct device_update u = {
        .name = "fuzz",
        .data = DEVICE_DATA,
        .state = "accepted",
        .cfgsn = DEVICE_CFGSN,
        .if_match = -1,
    };
    store_device_delete(app.store, DEVICE);
    if (store_device_update(app.store, DEVICE, &u, FUZZ_NOW, NULL, NULL) != STORE_CREATED)
        violated("the device could not be reset");
}

struct stored {
    bool found;
    int64_t cfgsn, lastseen, poll_interval;
    char name[300], state[16], data[9000], ipaddr[64], ssid[64];
};

static void copy_device(const struct device *d, void *user_data)
{
    struct stored *s = user_data;
    s->found = true;
    s->cfgsn = d->cfgsn;
    s->lastseen = d->lastseen;
    s->poll_interval = d->poll_interval;
    snprintf(s->name, sizeof s->name, "%s", d->name);
    snprintf(s->state, sizeof s->state, "%s", d->state);
    snprintf(s->data, sizeof s->data, "%s", d->data);
    snprintf(s->ipaddr, sizeof s->ipaddr, "%s", d->ipaddr);
    snprintf(s->ssid, sizeof s->ssid, "%s", d->ssid);
}

static struct stored stored_device(void)
{
    struct stored s = {0};
    if (store_device_get(app.store, DEVICE, copy_device, &s) != STORE_OK)
        violated("the device is gone");
    return s;
}

/* A refused request changed nothing: the device is as reset_device() left it. */
static void check_unchanged(void)
{
    struct stored s = stored_device();
    CHECK(s.cfgsn == DEVICE_CFGSN);
    CHECK(strcmp(s.name, "fuzz") == 0);
    CHECK(strcmp(s.state, "accepted") == 0);
    CHECK(strcmp(s.data, DEVICE_DATA) == 0);
    CHECK(s.poll_interval == 0);
    CHECK(s.lastseen == 0);
    CHECK(s.ipaddr[0] == '\0' && s.ssid[0] == '\0');
}

static struct json_object *parse_answer(void)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = json_tokener_parse_ex(tok, res.body, (int)res.body_len);
    bool whole = json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == res.body_len;
    json_tokener_free(tok);
    CHECK(whole);
    return obj;
}

static const char *string_member(struct json_object *o, const char *key)
{
    struct json_object *v;
    CHECK(json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static int64_t int_member(struct json_object *o, const char *key)
{
    struct json_object *v;
    CHECK(json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static bool has_etag(int64_t cfgsn)
{
    char line[48];
    snprintf(line, sizeof line, "ETag: \"%lld\"\r\n", (long long)cfgsn);
    return strstr(res.headers, line) != NULL;
}

static bool status_is(int status, const int *allowed, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (allowed[i] == status)
            return true;
    return false;
}

/* What each request may answer, and what its answer must hold. */
static void check_answer(enum target target, enum placement placement, struct json_object *body)
{
    static const int put_codes[] = {200, 400, 412}, register_codes[] = {200, 400}, list_codes[] = {200, 400},
                     poll_codes[] = {200, 304, 400};
    static const struct {
        const int *codes;
        size_t n;
    } allowed[] = {
        [PUT_DEVICE] = {put_codes, 3},
        [REGISTER] = {register_codes, 2},
        [LIST] = {list_codes, 2},
        [POLL] = {poll_codes, 3},
    };
    /* The token is valid; only a token-like parameter in the query may make it a 401. */
    CHECK(status_is(res.status, allowed[target].codes, allowed[target].n) ||
          (res.status == 401 && placement == IN_QUERY && (target == PUT_DEVICE || target == LIST)));
    if (res.status >= 400) {
        CHECK(json_object_is_type(body, json_type_object));
        CHECK(strcmp(string_member(body, "status"), "NOK") == 0);
        CHECK(string_member(body, "message")[0] != '\0');
        if (target == PUT_DEVICE || target == REGISTER)
            check_unchanged();
        return;
    }
    struct stored now = stored_device();
    switch (target) {
    case PUT_DEVICE:
    case REGISTER:
        CHECK(json_object_is_type(body, json_type_object));
        CHECK(strcmp(string_member(body, "deviceid"), DEVICE) == 0);
        CHECK(int_member(body, "cfgsn") == now.cfgsn);
        CHECK(has_etag(now.cfgsn));
        CHECK(target == PUT_DEVICE ? now.cfgsn >= DEVICE_CFGSN : now.cfgsn == DEVICE_CFGSN);
        break;
    case LIST:
        CHECK(json_object_is_type(body, json_type_array));
        CHECK(json_object_array_length(body) <= 6);
        break;
    case POLL:
        CHECK(res.status == 304 ? res.body_len == 0 : int_member(body, "cfgsn") == DEVICE_CFGSN);
        CHECK(has_etag(DEVICE_CFGSN));
        CHECK(now.lastseen == FUZZ_NOW);
        break;
    }
}

/* A C string of the input, as FastCGI hands over parameters: cut at NUL and at TEXT_MAX. */
static void text_of(char *out, const uint8_t *data, size_t size)
{
    size_t len = size < TEXT_MAX ? size : TEXT_MAX;
    memcpy(out, data, len);
    out[len] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"PUT", "POST", "GET", "GET"};
    static const char *const paths[] = {"/api/devices/" DEVICE, "/api/devices/" DEVICE, "/api/devices",
                                        "/api/devices/" DEVICE};
    if (size == 0 || size - 1 > BODY_MAX)
        return -1;
    enum target target = data[0] & 3;
    enum placement placement = data[0] >> 2 & 3;
    data++;
    size--;

    static char text[TEXT_MAX + 1];
    text_of(text, data, size);
    /* The body gets its own allocation of its size and the '\0' that struct request promises,
     * so that reading past it is caught. */
    char *body = placement == IN_BODY && size > 0 ? malloc(size + 1) : NULL;
    if (body) {
        memcpy(body, data, size);
        body[size] = '\0';
    }
    struct request req = {
        .method = methods[target],
        .path = paths[target],
        .query = placement == IN_QUERY ? text : "",
        .authorization = target == PUT_DEVICE || target == LIST ? authorization : NULL,
        .if_match = placement == IN_IF_MATCH ? text : NULL,
        .if_none_match = placement == IN_IF_NONE_MATCH ? text : NULL,
        .body = body,
        .body_len = body ? size : 0,
    };
    reset_device();
    response_reset(&res);
    router_dispatch(&app, &req, &res);
    free(body);

    CHECK(res.status != 500);
    CHECK(res.headers_len == strlen(res.headers));
    struct json_object *answer = NULL;
    if (res.body_len > 0) {
        CHECK(utf8_valid(res.body, res.body_len));
        answer = parse_answer();
    }
    CHECK(res.body_len > 0 || res.status == 304);
    check_answer(target, placement, answer);
    json_object_put(answer);
    return 0;
}
