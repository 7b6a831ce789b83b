/* The fixture of handler tests: a real store on a temporary file, a clock the test moves, an
 * admin token, and a response to fill. Static inline because each test is one object. */
#ifndef PROVD_TESTAPP_H
#define PROVD_TESTAPP_H

#include "testlib.h"

#include "app.h"
#include "secret.h"

static int64_t clock_now = TEST_T0;

static inline int64_t test_clock(void)
{
    return clock_now;
}

/* Opens the store in db, configures app with the test clock, and makes an admin token whose
 * "Bearer ..." header value goes to auth. */
static inline void testapp_open(struct tempdb *db, struct app *app, struct response *res, char *auth,
                                size_t auth_len, enum registration_policy policy)
{
    char token[TOKEN_LEN + 1];
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    tempdb_make(db);
    app->store = open_store(db->path);
    app->config = (struct config){
        .db_path = db->path, .registration = policy, .poll_interval = 60, .server_key = &test_server_key};
    app->now = test_clock;
    clock_now = TEST_T0;
    assert_true(secret_new_token(token));
    secret_sha256(token, strlen(token), hash);
    assert_int_equal(store_token_add(app->store, "test", hash, TEST_T0, 0), STORE_OK);
    snprintf(auth, auth_len, "Bearer %s", token);
    response_init(res);
}

static inline void testapp_close(struct tempdb *db, struct app *app, struct response *res)
{
    response_free(res);
    store_free(app->store);
    tempdb_remove(db);
}

/* The fixture of tests that need no more: an app with open registration, its response and
 * admin header, as cmocka setup and teardown. */
struct testapp_fixture {
    struct tempdb db;
    struct app app;
    struct response res;
    char auth[TOKEN_LEN + 16];
};

static inline int testapp_setup_open(void **state)
{
    struct testapp_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    testapp_open(&f->db, &f->app, &f->res, f->auth, sizeof f->auth, REGISTRATION_OPEN);
    *state = f;
    return 0;
}

static inline int testapp_teardown(void **state)
{
    struct testapp_fixture *f = *state;
    testapp_close(&f->db, &f->app, &f->res);
    free(f);
    return 0;
}

#endif
