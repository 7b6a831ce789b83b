/* Unit tests of the heartbeat's fast path in the store (store_device_poll, store_device_heartbeat,
 * store_device_seen, the seen sink); the writer that takes the sink's times is test_writer. */
#include "store_fixture.h"

#include <sqlite3.h>

#include "store_sqlite.h"

struct row {
    int64_t lastseen, cfgsn_applied;
};

static void capture(const struct device *d, void *user_data)
{
    struct row *r = user_data;
    r->lastseen = d->lastseen;
    r->cfgsn_applied = d->cfgsn_applied;
}

/* The row as stored, read by the admin's path. */
static struct row stored(const char *id)
{
    struct row r = {-9, -9};
    assert_int_equal(store_device_get(store, id, capture, &r), STORE_OK);
    return r;
}

/* The device's row key, which names it in heartbeat-time batches: read from the file itself,
 * since the store speaks of devices by id only. */
static int64_t row_of(const char *id)
{
    sqlite3 *db_conn;
    sqlite3_stmt *st;
    int64_t row = -1;
    assert_int_equal(sqlite3_open_v2(db.path, &db_conn, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db_conn, "SELECT id FROM devices WHERE deviceid = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        row = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db_conn);
    return row;
}

static void add(const char *id, int64_t when)
{
    assert_int_equal(store_device_register(store, id, "10.0.0.1", "n", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_OPEN), when, NULL, NULL),
                     STORE_CREATED);
}

/* The sink of the tests: remembers the last write it was handed, takes it if told to. */
struct sink {
    bool take;
    int calls;
    int64_t row, at;
};

static bool record(int64_t row, int64_t at, void *user_data)
{
    struct sink *k = user_data;
    k->calls++;
    k->row = row;
    k->at = at;
    return k->take;
}

/* A heartbeat does not read its device's heartbeat time: each one goes to the sink, and one
 * the sink refuses is written at once, never moving lastseen back. */
static void poll_hands_every_heartbeat_to_the_sink(void **state)
{
    (void)state;
    add("hb-a", TEST_T0);
    struct sink k = {.take = false};
    store_set_seen_sink(store, record, &k);
    struct row r = {0};
    assert_int_equal(store_device_poll(store, "hb-a", STORE_CALLER_UNSIGNED, -1, TEST_T0 + 5, capture, &r),
                     STORE_OK);
    assert_int_equal(k.calls, 1);
    assert_int_equal(k.row, row_of("hb-a"));
    assert_int_equal(k.at, TEST_T0 + 5);
    assert_int_equal(r.lastseen, TEST_T0 + 5);              /* the device is answered as seen now */
    assert_int_equal(stored("hb-a").lastseen, TEST_T0 + 5); /* refused by the sink: written */
    assert_int_equal(store_device_poll(store, "hb-a", STORE_CALLER_UNSIGNED, -1, TEST_T0 + 1, capture, &r),
                     STORE_OK);
    assert_int_equal(k.calls, 2);
    assert_int_equal(stored("hb-a").lastseen, TEST_T0 + 5);
    store_set_seen_sink(store, NULL, NULL);
}

static void poll_leaves_lastseen_to_a_sink_that_takes_it(void **state)
{
    (void)state;
    add("hb-b", TEST_T0);
    struct sink k = {.take = true};
    store_set_seen_sink(store, record, &k);
    struct row r = {0};
    assert_int_equal(store_device_poll(store, "hb-b", STORE_CALLER_UNSIGNED, -1, TEST_T0 + 7, capture, &r),
                     STORE_OK);
    assert_int_equal(k.calls, 1);
    assert_int_equal(r.lastseen, TEST_T0 + 7);
    assert_int_equal(stored("hb-b").lastseen, TEST_T0);
    /* A new cfgsn_applied is written at once, with lastseen, and never handed to the sink. */
    assert_int_equal(store_device_poll(store, "hb-b", STORE_CALLER_UNSIGNED, 3, TEST_T0 + 8, capture, &r),
                     STORE_OK);
    assert_int_equal(k.calls, 1);
    assert_int_equal(stored("hb-b").cfgsn_applied, 3);
    assert_int_equal(stored("hb-b").lastseen, TEST_T0 + 8);
    assert_int_equal(store_device_poll(store, "ghost", STORE_CALLER_UNSIGNED, -1, TEST_T0 + 9, capture, &r),
                     STORE_NOT_FOUND);
    assert_int_equal(k.calls, 1);
    store_set_seen_sink(store, NULL, NULL);
}

/* The heartbeat read from the poll index: lastseen moves, and the facts the answer depends on
 * come back, nothing written but the time. */
static void heartbeat_gives_the_facts_from_the_poll_index(void **state)
{
    (void)state;
    add("hb-e1", TEST_T0);
    struct device_update u = {.data = "{\"led\":1}", .cfgsn = -1, .if_match = IF_MATCH_NONE};
    struct row r = {0};
    assert_int_equal(store_device_update(store, "hb-e1", &u, TEST_T0, capture, &r), STORE_OK);
    struct poll_facts facts = {.rejected = true, .cfgsn = -9, .cfgsn_applied = -9};
    assert_int_equal(store_device_heartbeat(store, "hb-e1", STORE_CALLER_UNSIGNED, TEST_T0 + 3, &facts),
                     STORE_OK);
    assert_false(facts.rejected);
    assert_int_equal(facts.cfgsn, 1);
    assert_int_equal(facts.cfgsn_applied, -1); /* never reported */
    assert_int_equal(stored("hb-e1").lastseen, TEST_T0 + 3);
    assert_int_equal(stored("hb-e1").cfgsn_applied, -1);

    assert_int_equal(store_device_poll(store, "hb-e1", STORE_CALLER_UNSIGNED, 1, TEST_T0 + 5, capture, &r),
                     STORE_OK);
    assert_int_equal(store_device_heartbeat(store, "hb-e1", STORE_CALLER_UNSIGNED, TEST_T0 + 6, &facts),
                     STORE_OK);
    assert_int_equal(facts.cfgsn_applied, 1);
    assert_int_equal(stored("hb-e1").lastseen, TEST_T0 + 6);
    assert_int_equal(store_device_heartbeat(store, "hb-e1", STORE_CALLER_UNSIGNED, TEST_T0 + 1, &facts),
                     STORE_OK);
    assert_int_equal(stored("hb-e1").lastseen, TEST_T0 + 6); /* never back */

    u = (struct device_update){.state = "rejected", .cfgsn = -1, .if_match = IF_MATCH_NONE};
    assert_int_equal(store_device_update(store, "hb-e1", &u, TEST_T0, capture, &r), STORE_OK);
    assert_int_equal(store_device_heartbeat(store, "hb-e1", STORE_CALLER_UNSIGNED, TEST_T0 + 7, &facts),
                     STORE_OK);
    assert_true(facts.rejected);
    assert_int_equal(store_device_heartbeat(store, "ghost", STORE_CALLER_UNSIGNED, TEST_T0 + 7, &facts),
                     STORE_NOT_FOUND);
}

static void seen_moves_lastseen_forward_only(void **state)
{
    (void)state;
    add("hb-c", TEST_T0 + 100);
    add("hb-d", TEST_T0);
    struct store_seen batch[3] = {
        {row_of("hb-c"), TEST_T0 + 50}, {row_of("hb-d"), TEST_T0 + 60}, {INT64_MAX, TEST_T0 + 70}};
    assert_int_equal(store_device_seen(store, batch, 3), STORE_OK); /* a row that is gone is no error */
    assert_int_equal(stored("hb-c").lastseen, TEST_T0 + 100);
    assert_int_equal(stored("hb-d").lastseen, TEST_T0 + 60);
    assert_int_equal(store_device_seen(store, batch, 0), STORE_OK);
}

/* One batch over many devices (more than migration 7's blocks held) moves each device's own. */
static void seen_batch_of_many_devices(void **state)
{
    (void)state;
    enum { DEVICES = 140 };
    struct store_seen batch[DEVICES];
    size_t n = 0;
    char id[32];
    for (int i = 0; i < DEVICES; i++) {
        snprintf(id, sizeof id, "blk-%03d", i);
        add(id, TEST_T0);
        if (i % 3 == 0)
            batch[n++] = (struct store_seen){row_of(id), TEST_T0 + 1 + i};
    }
    assert_int_equal(store_device_seen(store, batch, n), STORE_OK);
    for (int i = 0; i < DEVICES; i++) {
        snprintf(id, sizeof id, "blk-%03d", i);
        assert_int_equal(stored(id).lastseen, i % 3 == 0 ? TEST_T0 + 1 + i : TEST_T0);
    }
}

int main(void)
{
    test_on_sqlite_only();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_hands_every_heartbeat_to_the_sink),
        cmocka_unit_test(poll_leaves_lastseen_to_a_sink_that_takes_it),
        cmocka_unit_test(heartbeat_gives_the_facts_from_the_poll_index),
        cmocka_unit_test(seen_moves_lastseen_forward_only),
        cmocka_unit_test(seen_batch_of_many_devices),
    };
    return cmocka_run_group_tests(tests, open_db, close_db);
}
