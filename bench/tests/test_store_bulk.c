/* Unit tests of the store's bulk loading (store_device_bulk_add, store_reading_bulk_add), which
 * bench/seed uses: the rows they make behave like rows made through the API. */
#include "store_fixture.h"

#define KEY "000102030405060708090a0b0c0d0e0f"

/* One database for the group (store_fixture.h): each test uses its own id prefix, so the bulk
 * functions are also shown to work beside rows that are already there. */

/* The parts of the last device a callback saw that bulk loading sets. */
struct seen {
    char state[16];
    int64_t lastseen, last_seqn;
    bool has_key;
};

static void capture(const struct device *d, void *user_data)
{
    struct seen *s = user_data;
    copy_text(s->state, sizeof s->state, d->state);
    s->lastseen = d->lastseen;
    s->last_seqn = d->last_seqn;
    s->has_key = d->has_key;
}

static size_t reading_text(int64_t seqn, char *buf, size_t len, void *user_data)
{
    (void)user_data;
    int w = snprintf(buf, len, "{\"SEQN\":%lld}", (long long)seqn);
    return w > 0 && (size_t)w < len ? (size_t)w : 0;
}

static size_t no_text(int64_t seqn, char *buf, size_t len, void *user_data)
{
    (void)seqn, (void)buf, (void)len, (void)user_data;
    return 0;
}

struct walk {
    int n;
    int64_t seqn[8], received_at[8];
};

static bool collect(const struct reading *r, void *user_data)
{
    struct walk *w = user_data;
    assert_true(w->n < 8);
    w->seqn[w->n] = r->seqn;
    w->received_at[w->n++] = r->received_at;
    return true;
}

/* How many devices have ids containing prefix (no test's prefix contains another's). */
static int count_devices(const char *prefix)
{
    struct device_filter f = {
        .online = -1, .q = prefix, .limit = 100, .now = TEST_T0, .default_interval = 60};
    int n = -1;
    assert_int_equal(store_device_list(store, &f, NULL, NULL, &n), STORE_OK);
    return n;
}

static int count_readings(const char *deviceid)
{
    struct reading_filter all = {.since = 0, .until = INT64_MAX, .after = -1, .ascending = true, .limit = -1};
    struct walk w = {0};
    assert_int_equal(store_reading_list(store, deviceid, &all, collect, &w), STORE_OK);
    return w.n;
}

static void devices_are_accepted_with_key(void **state)
{
    (void)state;
    assert_int_equal(store_device_bulk_add(store, "G1", 8, 3, KEY, TEST_T0), STORE_OK);
    struct seen seen = {0};
    assert_int_equal(store_device_get(store, "G100000A", capture, &seen), STORE_OK);
    assert_string_equal(seen.state, "accepted");
    assert_true(seen.has_key);
    assert_int_equal(seen.lastseen, TEST_T0);
    assert_int_equal(seen.last_seqn, -1);
    assert_int_equal(store_device_get(store, "G1000008", NULL, NULL), STORE_OK);
    assert_int_equal(store_device_get(store, "G1000007", NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_device_get(store, "G100000B", NULL, NULL), STORE_NOT_FOUND);
    struct device_trust trust;
    assert_int_equal(store_device_trust(store, "G1000009", &trust), STORE_OK);
    assert_string_equal(trust.key, KEY);
    assert_int_equal(count_devices("G1"), 3);
}

/* One transaction: a clash with an existing id leaves none of the batch behind. */
static void device_batch_is_all_or_nothing(void **state)
{
    (void)state;
    assert_int_equal(store_device_bulk_add(store, "G2", 2, 1, KEY, TEST_T0), STORE_OK);
    assert_int_equal(store_device_bulk_add(store, "G2", 0, 4, KEY, TEST_T0), STORE_ERROR);
    assert_int_equal(count_devices("G2"), 1);
    assert_int_equal(store_device_bulk_add(store, "G2", 3, 2, KEY, TEST_T0), STORE_OK);
    assert_int_equal(count_devices("G2"), 3);
}

static void long_prefix_is_refused(void **state)
{
    (void)state;
    char prefix[80];
    repeat(prefix, sizeof prefix, "P", 59);
    assert_int_equal(store_device_bulk_add(store, prefix, 0, 1, KEY, TEST_T0), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(store), "longer than 64"));
    prefix[58] = '\0';
    assert_int_equal(store_device_bulk_add(store, prefix, 0, 1, KEY, TEST_T0), STORE_OK);
}

static void readings_are_spaced_and_mark_the_last_seqn(void **state)
{
    (void)state;
    assert_int_equal(store_device_bulk_add(store, "G4", 0, 3, KEY, TEST_T0 - 1000), STORE_OK);
    assert_int_equal(store_reading_bulk_add(store, "G4", 1, 2, 4, TEST_T0, 60, reading_text, NULL), STORE_OK);
    struct reading_filter all = {.since = 0, .until = INT64_MAX, .after = -1, .ascending = true, .limit = -1};
    struct walk w = {0};
    assert_int_equal(store_reading_list(store, "G4000002", &all, collect, &w), STORE_OK);
    assert_int_equal(w.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w.seqn[i], i + 1);
        assert_int_equal(w.received_at[i], TEST_T0 - (3 - i) * 60);
    }
    assert_int_equal(count_readings("G4000000"), 0);
    struct seen seen = {0};
    assert_int_equal(store_device_get(store, "G4000001", capture, &seen), STORE_OK);
    assert_int_equal(seen.last_seqn, 4);
    assert_int_equal(seen.lastseen, TEST_T0);
    /* The SEQN rule holds across the load: an old SEQN is a replay, the next one is new. */
    assert_int_equal(store_reading_add(store, "G4000001", 4, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_STALE);
    assert_int_equal(store_reading_add(store, "G4000001", 5, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
}

static void failed_reading_loads_leave_nothing(void **state)
{
    (void)state;
    assert_int_equal(store_device_bulk_add(store, "G5", 0, 1, KEY, TEST_T0), STORE_OK);
    /* G5000001 does not exist: the readings already added for G5000000 go too. */
    assert_int_equal(store_reading_bulk_add(store, "G5", 0, 2, 3, TEST_T0, 60, reading_text, NULL),
                     STORE_NOT_FOUND);
    assert_int_equal(count_readings("G5000000"), 0);
    assert_int_equal(store_reading_bulk_add(store, "G5", 0, 1, 3, TEST_T0, 60, no_text, NULL), STORE_ERROR);
    assert_int_equal(count_readings("G5000000"), 0);
    assert_int_equal(store_reading_bulk_add(store, "G5", 0, 1, 3, TEST_T0, 60, reading_text, NULL), STORE_OK);
    assert_int_equal(count_readings("G5000000"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(devices_are_accepted_with_key),
        cmocka_unit_test(device_batch_is_all_or_nothing),
        cmocka_unit_test(long_prefix_is_refused),
        cmocka_unit_test(readings_are_spaced_and_mark_the_last_seqn),
        cmocka_unit_test(failed_reading_loads_leave_nothing),
    };
    return cmocka_run_group_tests(tests, open_db, close_db);
}
