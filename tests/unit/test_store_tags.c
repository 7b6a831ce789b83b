/* Unit tests of devices' locations, tags and bulk changes (store.h) on either backend (testlib.h:
 * a SQLite file, or a PostgreSQL database with PROVD_TEST_PG): who may set a location, tags
 * replaced and filtered, and each bulk action's count, cap, batches and cfgsn rule. */
#include "store_testlib.h"

#define INTERVAL 60

static int setup(void **state)
{
    return store_setup_with(state, tempdb_make);
}

static enum store_status register_at(struct store *s, const char *id, const char *location)
{
    return store_device_register(s, id, "10.0.0.1", "net", location, REGISTRATION_UNCAPPED(REGISTRATION_APPROVE),
                                 TEST_T0, NULL, NULL);
}

/* Devices PREFIX1, PREFIX2 and PREFIX3, pending. */
static void register_three(struct store *s, const char *prefix)
{
    for (int i = 1; i <= 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        assert_int_equal(register_at(s, id, NULL), STORE_CREATED);
    }
}

static void set_tags(struct store *s, const char *id, const char *tags)
{
    struct device_update u = no_change();
    u.tags = tags;
    struct seen d = {0};
    assert_int_equal(store_device_update(s, id, &u, TEST_T0, capture, &d), STORE_OK);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.tags, tags); /* handed over with its new tags */
}

static struct device_filter every_device(int limit)
{
    return (struct device_filter){.online = -1, .limit = limit, .now = TEST_T0, .default_interval = INTERVAL};
}

static int64_t bulk(struct store *s, const struct device_filter *f, struct device_bulk b)
{
    int64_t affected = -1;
    assert_int_equal(store_device_bulk(s, f, &b, &affected), STORE_OK);
    return affected;
}

static int count_matching(struct store *s, const struct device_filter *f)
{
    int count = -1;
    assert_int_equal(store_device_list(s, f, NULL, NULL, &count), STORE_OK);
    return count;
}

/* A device sets its location until an admin pins one; null hands it back. */
static void location_device_then_admin(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(register_at(fx->store, "dev", "shed"), STORE_CREATED);
    assert_string_equal(get(fx->store, "dev").location, "shed");
    assert_int_equal(register_at(fx->store, "dev", NULL), STORE_OK); /* none sent: kept */
    assert_string_equal(get(fx->store, "dev").location, "shed");
    assert_int_equal(register_at(fx->store, "dev", "barn"), STORE_OK);
    assert_string_equal(get(fx->store, "dev").location, "barn");
    struct device_update u = no_change();
    u.set_location = true;
    u.location = "Greenhouse 2, row 4";
    struct seen d = {0};
    assert_int_equal(store_device_update(fx->store, "dev", &u, TEST_T0, capture, &d), STORE_OK);
    assert_string_equal(d.location, "Greenhouse 2, row 4");
    assert_int_equal(register_at(fx->store, "dev", "attic"), STORE_OK);
    assert_string_equal(get(fx->store, "dev").location, "Greenhouse 2, row 4");
    u.location = NULL;
    assert_int_equal(store_device_update(fx->store, "dev", &u, TEST_T0, capture, &d), STORE_OK);
    assert_string_equal(d.location, "");
    assert_int_equal(register_at(fx->store, "dev", "attic"), STORE_OK);
    assert_string_equal(get(fx->store, "dev").location, "attic");
    /* Created by an admin with a location: pinned from the start. */
    u.location = "lab";
    assert_int_equal(store_device_update(fx->store, "made", &u, TEST_T0, capture, &d), STORE_CREATED);
    assert_int_equal(register_at(fx->store, "made", "elsewhere"), STORE_OK);
    assert_string_equal(get(fx->store, "made").location, "lab");
}

static void search_finds_locations(void **state)
{
    struct fixture *fx = *state;
    register_at(fx->store, "a", "Greenhouse North");
    register_at(fx->store, "b", "barn");
    struct device_filter f = every_device(10);
    f.q = "greenHOUSE";
    assert_int_equal(count_matching(fx->store, &f), 1);
}

/* Tags replace the set, come back sorted, and filter the list in keyset pages. */
static void tags_replace_and_filter(void **state)
{
    struct fixture *fx = *state;
    static const char *const ids[] = {"d1", "d2", "d3", "d4", "d5"};
    for (int i = 0; i < 5; i++)
        register_at(fx->store, ids[i], NULL);
    assert_string_equal(get(fx->store, "d1").tags, "[]");
    set_tags(fx->store, "d1", "[\"greenhouse\",\"v2-board\"]");
    set_tags(fx->store, "d1", "[\"a.b\",\"v2-board\"]"); /* greenhouse goes */
    set_tags(fx->store, "d2", "[\"v2-board\"]");
    set_tags(fx->store, "d4", "[\"v2-board\"]");
    set_tags(fx->store, "d5", "[\"v2-board\"]");
    struct device_filter f = every_device(2);
    f.tag = "greenhouse";
    assert_int_equal(count_matching(fx->store, &f), 0);
    f.tag = "v2-board";
    /* Keyset pages of 2 over the tag's 4 devices: d1 d2, d4 d5, then none. */
    static const int page_sizes[] = {2, 2, 0};
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        struct seen last = {0};
        int count = -1;
        assert_int_equal(store_device_list(fx->store, &f, capture, &last, &count), STORE_OK);
        assert_int_equal(count, page_sizes[page]);
        seen += count;
        static char cursor[128];
        snprintf(cursor, sizeof cursor, "%s", last.deviceid);
        f.after = cursor;
        if (page == 0)
            assert_string_equal(cursor, "d2");
    }
    assert_int_equal(seen, 4);
    set_tags(fx->store, "d1", "[]");
    f = every_device(10);
    f.tag = "a.b";
    assert_int_equal(count_matching(fx->store, &f), 0);
    /* Deleting a device deletes its tags. */
    assert_int_equal(store_device_delete(fx->store, "d2"), STORE_OK);
    f.tag = "v2-board";
    assert_int_equal(count_matching(fx->store, &f), 2);
    int64_t count = -1;
    f.limit = 1; /* a count is not cut by the page's limit */
    assert_int_equal(store_device_count(fx->store, &f, &count), STORE_OK);
    assert_int_equal(count, 2);
    f.tag = NULL;
    f.ids = "[\"d1\",\"d4\",\"nobody\"]";
    assert_int_equal(store_device_count(fx->store, &f, &count), STORE_OK);
    assert_int_equal(count, 2);
}

static void bulk_tag_untag(void **state)
{
    struct fixture *fx = *state;
    register_three(fx->store, "p");
    struct device_update u = no_change();
    u.state = "accepted";
    assert_int_equal(store_device_update(fx->store, "p3", &u, TEST_T0, NULL, NULL), STORE_OK);
    struct device_filter f = every_device(100);
    f.state = "pending";
    struct device_bulk tag = {.action = DEVICE_BULK_TAG, .tag = "new"};
    assert_int_equal(bulk(fx->store, &f, tag), 2);
    assert_int_equal(bulk(fx->store, &f, tag), 0); /* they have it */
    assert_string_equal(get(fx->store, "p1").tags, "[\"new\"]");
    assert_string_equal(get(fx->store, "p3").tags, "[]");
    /* By tag, untag: only the tagged ones count. */
    f = every_device(100);
    assert_int_equal(bulk(fx->store, &f, (struct device_bulk){.action = DEVICE_BULK_UNTAG, .tag = "new"}), 2);
    assert_int_equal(bulk(fx->store, &f, (struct device_bulk){.action = DEVICE_BULK_UNTAG, .tag = "new"}), 0);
    /* Explicit ids; one that does not exist is no device. */
    f.ids = "[\"p1\",\"p3\",\"ghost\"]";
    assert_int_equal(bulk(fx->store, &f, tag), 2);
    assert_string_equal(get(fx->store, "p2").tags, "[]");
}

/* Batches: at most limit devices per call; the same call again takes the next ones. */
static void bulk_batches_and_tag_cap(void **state)
{
    struct fixture *fx = *state;
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "b%d", i);
        register_at(fx->store, id, NULL);
    }
    struct device_filter f = every_device(2);
    struct device_bulk approve = {.action = DEVICE_BULK_APPROVE};
    assert_int_equal(bulk(fx->store, &f, approve), 2);
    assert_string_equal(get(fx->store, "b1").state, "accepted");
    assert_string_equal(get(fx->store, "b2").state, "pending");
    assert_int_equal(bulk(fx->store, &f, approve), 2);
    assert_int_equal(bulk(fx->store, &f, approve), 1);
    assert_int_equal(bulk(fx->store, &f, approve), 0);
    /* A device with DEVICE_TAGS_MAX tags gets no more. */
    char tags[512] = "[";
    for (int i = 0; i < DEVICE_TAGS_MAX; i++)
        snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%s\"t%02d\"", i ? "," : "", i);
    strcat(tags, "]");
    set_tags(fx->store, "b0", tags);
    f = every_device(100);
    assert_int_equal(bulk(fx->store, &f, (struct device_bulk){.action = DEVICE_BULK_TAG, .tag = "more"}), 4);
    assert_string_equal(get(fx->store, "b0").tags, tags);
}

/* A property set in bulk raises cfgsn as an admin's change does: once, only when it changes. */
static void bulk_set_raises_cfgsn_on_change(void **state)
{
    struct fixture *fx = *state;
    register_three(fx->store, "c");
    struct device_update u = no_change();
    u.data = "{\"led\":true,\"rate\":5}";
    assert_int_equal(store_device_update(fx->store, "c1", &u, TEST_T0, NULL, NULL), STORE_OK);
    u.data = "[1,2]"; /* not an object: left out */
    assert_int_equal(store_device_update(fx->store, "c3", &u, TEST_T0, NULL, NULL), STORE_OK);
    int64_t before1 = get(fx->store, "c1").cfgsn, before2 = get(fx->store, "c2").cfgsn;
    struct device_filter f = every_device(100);
    struct device_bulk set = {.action = DEVICE_BULK_SET, .key = "rate", .value = "30"};
    assert_int_equal(bulk(fx->store, &f, set), 2);
    struct seen c1 = get(fx->store, "c1");
    assert_int_equal(c1.cfgsn, before1 + 1);
    assert_int_equal(get(fx->store, "c2").cfgsn, before2 + 1);
    assert_int_equal(bulk(fx->store, &f, set), 0); /* no change, no new cfgsn */
    assert_int_equal(get(fx->store, "c1").cfgsn, before1 + 1);
    set.value = "{\"a\":[1,\"x\"]}";
    assert_int_equal(bulk(fx->store, &f, set), 2);
    assert_int_equal(bulk(fx->store, &f, set), 0);
    assert_string_equal(get(fx->store, "c3").data, "[1,2]");
    /* A configuration that would pass DATA_MAX bytes is left out. */
    char big[8200];
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[8190] = '"';
    big[8191] = '\0';
    set.value = big;
    assert_int_equal(bulk(fx->store, &f, set), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(location_device_then_admin), T(search_finds_locations), T(tags_replace_and_filter),
        T(bulk_tag_untag),             T(bulk_batches_and_tag_cap), T(bulk_set_raises_cfgsn_on_change),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
