/* What the store's unit tests share (test_store.c on either backend, test_store_sqlite.c on
 * SQLite): a fresh database per test, the device a callback saw copied out, and small helpers.
 * Static inline, since the Makefile links one object per test. */
#ifndef PROVD_STORE_TESTLIB_H
#define PROVD_STORE_TESTLIB_H

#include "testlib.h"

#include "store.h"

#define INTERVAL 60

struct fixture {
    struct tempdb db;
    struct store *store;
};

/* The last device a callback saw, copied out of the borrowed row. */
struct seen {
    int calls;
    char deviceid[128], name[512], state[16], ssid[64], ipaddr[64], data[9000], location[600], tags[1200];
    int64_t lastseen, cfgsn, cfgsn_applied, poll_interval, datec, last_seqn;
    bool has_key;
};

static inline void capture(const struct device *d, void *user_data)
{
    struct seen *s = user_data;
    s->calls++;
    copy_text(s->deviceid, sizeof s->deviceid, d->deviceid);
    copy_text(s->name, sizeof s->name, d->name);
    copy_text(s->state, sizeof s->state, d->state);
    copy_text(s->ssid, sizeof s->ssid, d->ssid);
    copy_text(s->ipaddr, sizeof s->ipaddr, d->ipaddr);
    copy_text(s->data, sizeof s->data, d->data);
    copy_text(s->location, sizeof s->location, d->location);
    copy_text(s->tags, sizeof s->tags, d->tags);
    s->lastseen = d->lastseen;
    s->cfgsn = d->cfgsn;
    s->cfgsn_applied = d->cfgsn_applied;
    s->poll_interval = d->poll_interval;
    s->datec = d->datec;
    s->last_seqn = d->last_seqn;
    s->has_key = d->has_key;
}

/* A fixture on a database made by make (tempdb_make: either backend; tempdb_make_sqlite). */
static inline int store_setup_with(void **state, void (*make)(struct tempdb *))
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    make(&fx->db);
    fx->store = open_store(fx->db.path);
    *state = fx;
    return 0;
}

static inline int teardown(void **state)
{
    struct fixture *fx = *state;
    store_free(fx->store);
    tempdb_remove(&fx->db);
    free(fx);
    return 0;
}

/* Reads the device as it is stored now; fails when it is absent. */
static inline struct seen get(struct store *s, const char *id)
{
    struct seen d = {0};
    assert_int_equal(store_device_get(s, id, capture, &d), STORE_OK);
    assert_int_equal(d.calls, 1);
    return d;
}

static inline struct device_update no_change(void)
{
    return (struct device_update){.cfgsn = -1, .if_match = -1};
}

static inline bool count_reading(const struct reading *r, void *user_data)
{
    int *n = user_data;
    (*n)++;
    assert_true(r->id > 0);
    return true;
}

/* How many readings the device has, all of them. */
static inline int stored_readings(struct store *s, const char *id)
{
    struct reading_filter all = {.since = 0, .until = INT64_MAX, .after = -1, .ascending = true, .limit = -1};
    int n = 0;
    assert_int_equal(store_reading_list(s, id, &all, count_reading, &n), STORE_OK);
    return n;
}

/* A new device, accepted at once. */
static inline void add_open(struct store *s, const char *id)
{
    assert_int_equal(
        store_device_register(s, id, "", "", NULL, REGISTRATION_UNCAPPED(REGISTRATION_OPEN), TEST_T0, NULL, NULL),
        STORE_CREATED);
}

/* After a SEQN reset the device counts from 1 again; the readings of before stay. */
#endif
