/* Unit tests of store.h against a real database made afresh for each test (testlib.h: a SQLite
 * file, or a PostgreSQL database with PROVD_TEST_PG): reopening, registration policies, polls,
 * updates and cfgsn rules, readings and retention, listing, stats, tokens. What only the SQLite
 * backend has is in test_store_sqlite.c, only PostgreSQL's in test_store_pg.c. */
#include "store_testlib.h"
#include "secret.h"

/* The ids of a list page, in order. */
struct ids {
    int n;
    char id[16][128];
};

static void collect_id(const struct device *d, void *user_data)
{
    struct ids *ids = user_data;
    assert_true(ids->n < 16);
    copy_text(ids->id[ids->n++], sizeof ids->id[0], d->deviceid);
}

static int setup(void **state)
{
    return store_setup_with(state, tempdb_make);
}

static enum store_status update(struct store *s, const char *id, const struct device_update *u,
                                struct seen *out)
{
    return store_device_update(s, id, u, TEST_T0, capture, out);
}

/* A second open finds the schema current: it neither migrates again nor loses rows. */
static void open_again_keeps_rows(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(store_ping(fx->store), STORE_OK);
    assert_int_equal(store_prepare_all(fx->store), STORE_OK); /* every statement fits the schema */
    assert_int_equal(store_device_register(fx->store, "kept", "10.0.0.1", "net", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), TEST_T0, NULL, NULL),
                     STORE_CREATED);
    store_free(fx->store);
    fx->store = open_store(fx->db.path);
    assert_int_equal(store_prepare_all(fx->store), STORE_OK);
    struct seen d = get(fx->store, "kept");
    assert_string_equal(d.ipaddr, "10.0.0.1");
}

static void seqn_reset_starts_a_new_epoch(void **state)
{
    struct fixture *fx = *state;
    struct device_update u = no_change();
    add_open(fx->store, "lost");
    for (int64_t seqn = 1; seqn <= 2; seqn++)
        assert_int_equal(store_reading_add(fx->store, "lost", seqn, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    struct seen after_reset = {0};
    u.seqn_reset = true;
    assert_int_equal(update(fx->store, "lost", &u, &after_reset), STORE_OK);
    assert_int_equal(after_reset.last_seqn, -1);
    /* A reading opened in the epoch before the reset (a recording) is not taken after it. */
    assert_int_equal(store_reading_add(fx->store, "lost", 1, TEST_T0 + 1, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                     STORE_STALE);
    assert_int_equal(store_reading_add(fx->store, "lost", 1, TEST_T0 + 1, TS_NONE, "{}", 2, 1, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "lost", 1, TEST_T0 + 1, TS_NONE, "{}", 2, 1, DEVICE_TRUST_V2), STORE_STALE);
    assert_int_equal(stored_readings(fx->store, "lost"), 3);
}

/* A reading is stored only while its device is accepted, whatever the state it was opened
 * against: a reject between the two (an admin's, on another host) refuses it, alone or in a batch. */
static void a_device_rejected_since_takes_no_reading(void **state)
{
    struct fixture *fx = *state;
    struct device_update u = no_change();
    struct seen after = {0};
    add_open(fx->store, "banned");
    add_open(fx->store, "fine");
    assert_int_equal(store_reading_add(fx->store, "banned", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    u.state = "rejected";
    assert_int_equal(update(fx->store, "banned", &u, &after), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "banned", 2, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                     STORE_REFUSED);
    struct reading_new r[] = {
        {"fine", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2},
        {"banned", 3, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2},
    };
    readings_answer(fx->store, r, 2, STORE_OK, (enum store_status[]){STORE_OK, STORE_REFUSED});
    assert_int_equal(stored_readings(fx->store, "banned"), 1);
    assert_int_equal(get(fx->store, "banned").last_seqn, 1);
    /* Accepted again: taken, and an old SEQN is a replay again. */
    u.state = "accepted";
    assert_int_equal(update(fx->store, "banned", &u, &after), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "banned", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_STALE);
    assert_int_equal(store_reading_add(fx->store, "banned", 4, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(stored_readings(fx->store, "banned"), 2);
}

static bool keep_text(const struct reading *r, void *text)
{
    snprintf(text, 128, "%s", r->reading);
    return true;
}

/* Readings of several devices in one call: each its own answer, and each text stored byte for
 * byte (what an array literal must quote on PostgreSQL). */
static void readings_of_many_devices_at_once(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "one");
    add_open(fx->store, "two");
    assert_int_equal(store_reading_add(fx->store, "two", 9, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    const char *tricky = "{\"SEQN\":1,\"q\":\"a \\\"b\\\" \\\\ {c},NULL\",\"u\":\"\u00e9\u2603\"}";
    struct reading_new r[] = {
        {"one", 1, TEST_T0, TS_NONE, tricky, strlen(tricky), 0, DEVICE_TRUST_V2},
        {"two", 9, TEST_T0, 1700000000, "{}", 2, 0, DEVICE_TRUST_V2},
        {"nobody", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2},
    };
    readings_answer(fx->store, r, 3, STORE_OK, (enum store_status[]){STORE_OK, STORE_STALE, STORE_NOT_FOUND});
    char text[128] = "";
    struct reading_filter all = {.since = 0, .until = INT64_MAX, .after = -1, .limit = -1};
    assert_int_equal(store_reading_list(fx->store, "one", &all, keep_text, text), STORE_OK);
    assert_string_equal(text, tricky);
    assert_int_equal(stored_readings(fx->store, "two"), 1);
}

/* v1 until the first v2; then v1 is refused and the trust bits say which envelopes came. */
static void no_v1_after_v2(void **state)
{
    struct fixture *fx = *state;
    struct device_trust t;
    add_open(fx->store, "downgrade");
    assert_int_equal(store_reading_add(fx->store, "downgrade", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V1), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "downgrade", 2, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "downgrade", 3, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V1),
                     STORE_STALE);
    assert_int_equal(store_device_trust(fx->store, "downgrade", &t), STORE_OK);
    assert_int_equal(t.trust, DEVICE_TRUST_V1 | DEVICE_TRUST_V2);
    assert_int_equal(stored_readings(fx->store, "downgrade"), 2);
}

/* A signed registration's t is taken once; heartbeats (not state-changing) only mark the device. */
static void signed_calls_change_state_once(void **state)
{
    struct fixture *fx = *state;
    struct device_trust t;
    add_open(fx->store, "signer");
    assert_int_equal(store_device_trust(fx->store, "signer", &t), STORE_OK);
    assert_int_equal(t.trust, 0);
    assert_string_equal(t.key, "");
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0, false), STORE_OK);
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0, true), STORE_OK);
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0, true), STORE_STALE);
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0 - 1, true), STORE_STALE);
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0 - 1, false), STORE_OK);
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0 + 1, true), STORE_OK);
    assert_int_equal(store_device_trust(fx->store, "signer", &t), STORE_OK);
    assert_int_equal(t.trust, DEVICE_TRUST_SIGNED);
    assert_int_equal(store_device_trust(fx->store, "nobody", &t), STORE_NOT_FOUND);
}

/* A read sees one snapshot: another connection's commit shows only once the read has ended. */
static void read_sees_one_snapshot(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "snap");
    struct store *other = open_store(fx->db.path);
    assert_int_equal(store_read_begin(fx->store), STORE_OK);
    assert_int_equal(stored_readings(fx->store, "snap"), 0);
    assert_int_equal(store_reading_add(other, "snap", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(stored_readings(fx->store, "snap"), 0);
    store_read_end(fx->store);
    assert_int_equal(stored_readings(fx->store, "snap"), 1);
    /* The read is over: the connection writes again. */
    assert_int_equal(store_reading_add(fx->store, "snap", 2, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    store_free(other);
}

/* Retention deletes in batches, oldest first, and stops at the first young reading. */
static void prune_deletes_old_readings_in_batches(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "aging");
    for (int64_t seqn = 1; seqn <= 10; seqn++)
        assert_int_equal(
            store_reading_add(fx->store, "aging", seqn, TEST_T0 + (seqn > 5 ? 100 : 0), TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
            STORE_OK);
    int deleted = -1;
    assert_int_equal(store_reading_prune(fx->store, TEST_T0 + 50, 3, &deleted), STORE_OK);
    assert_int_equal(deleted, 3);
    assert_int_equal(store_reading_prune(fx->store, TEST_T0 + 50, 3, &deleted), STORE_OK);
    assert_int_equal(deleted, 2);
    assert_int_equal(store_reading_prune(fx->store, TEST_T0 + 50, 3, &deleted), STORE_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(stored_readings(fx->store, "aging"), 5);
    /* The SEQN check still holds after the old readings went. */
    assert_int_equal(store_reading_add(fx->store, "aging", 3, TEST_T0 + 200, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_STALE);
}

/* PROVD_SYNCHRONOUS=full: the connection takes the setting and keeps working; a bulk load,
 * which turns syncing off while it runs, ends without error. */
static void sync_every_commit(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(store_sync_every_commit(fx->store), STORE_OK);
    add_open(fx->store, "synced");
    assert_int_equal(store_device_bulk_add(fx->store, "bulk-", 0, 3, NULL, TEST_T0), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "synced", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(get(fx->store, "synced").last_seqn, 1);
}

static void register_approve_makes_pending(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    assert_int_equal(store_device_register(fx->store, "AA:BB:CC:00:00:01", "192.168.1.5", "home", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), TEST_T0, capture, &d),
                     STORE_CREATED);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.state, "pending");
    assert_string_equal(d.ipaddr, "192.168.1.5");
    assert_string_equal(d.ssid, "home");
    assert_int_equal(d.lastseen, TEST_T0);
    assert_int_equal(d.datec, TEST_T0);
    assert_int_equal(d.cfgsn, 0);
    assert_int_equal(d.cfgsn_applied, -1);
    assert_int_equal(d.poll_interval, 0);
    assert_int_equal(d.last_seqn, -1);
    assert_false(d.has_key);
    assert_string_equal(d.data, "{}");
}

static void register_open_makes_accepted(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    assert_int_equal(store_device_register(fx->store, "dev", "10.0.0.2", "net", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_OPEN), TEST_T0, capture, &d),
                     STORE_CREATED);
    assert_string_equal(d.state, "accepted");
    assert_string_equal(get(fx->store, "dev").state, "accepted");
}

static void register_closed_only_known(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    assert_int_equal(store_device_register(fx->store, "stranger", "10.0.0.3", "net", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_CLOSED), TEST_T0, capture, &d),
                     STORE_REFUSED);
    assert_int_equal(d.calls, 0);
    assert_int_equal(store_device_get(fx->store, "stranger", NULL, NULL), STORE_NOT_FOUND);

    struct device_update u = no_change();
    assert_int_equal(update(fx->store, "known", &u, &d), STORE_CREATED);
    d = (struct seen){0};
    assert_int_equal(store_device_register(fx->store, "known", "10.0.0.4", "net", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_CLOSED), TEST_T0 + 5, capture,
                                           &d),
                     STORE_OK);
    assert_string_equal(d.ipaddr, "10.0.0.4");
    assert_string_equal(d.state, "accepted");
    assert_int_equal(d.lastseen, TEST_T0 + 5);
}

static void register_known_updates_and_keeps_state(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(store_device_register(fx->store, "dev", "10.0.0.1", "one", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), TEST_T0, NULL, NULL),
                     STORE_CREATED);
    struct device_update u = no_change();
    u.state = "rejected";
    struct seen d = {0};
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    /* Registering again under an open policy does not undo the admin's decision. */
    d = (struct seen){0};
    assert_int_equal(store_device_register(fx->store, "dev", "fe80::2", "two", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_OPEN), TEST_T0 + 60, capture,
                                           &d),
                     STORE_OK);
    assert_string_equal(d.ipaddr, "fe80::2");
    assert_string_equal(d.ssid, "two");
    assert_int_equal(d.lastseen, TEST_T0 + 60);
    assert_int_equal(d.datec, TEST_T0);
    assert_string_equal(d.state, "rejected");
    /* Absent fields keep their values. */
    assert_int_equal(store_device_register(fx->store, "dev", NULL, NULL, NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_OPEN), TEST_T0 + 61, NULL,
                                           NULL),
                     STORE_OK);
    d = get(fx->store, "dev");
    assert_string_equal(d.ipaddr, "fe80::2");
    assert_string_equal(d.ssid, "two");
    assert_int_equal(d.lastseen, TEST_T0 + 61);
}

static enum store_status register_capped(struct store *s, const char *id, const char *from, int64_t now)
{
    const struct registration reg = {REGISTRATION_APPROVE, from, 2, 3};
    return store_device_register(s, id, "10.0.0.1", "net", NULL, &reg, now, NULL, NULL);
}

/* Two new devices a minute from one address, three in all: known devices are never refused. */
static void register_caps_new_devices(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(register_capped(fx->store, "a1", "192.0.2.1", TEST_T0), STORE_CREATED);
    assert_int_equal(register_capped(fx->store, "a2", "192.0.2.1", TEST_T0 + 1), STORE_CREATED);
    assert_int_equal(register_capped(fx->store, "a3", "192.0.2.1", TEST_T0 + 2), STORE_TOO_MANY);
    assert_int_equal(store_device_get(fx->store, "a3", NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(register_capped(fx->store, "a1", "192.0.2.1", TEST_T0 + 3), STORE_OK);
    assert_int_equal(register_capped(fx->store, "b1", "192.0.2.2", TEST_T0 + 3), STORE_CREATED);
    /* The cap on devices comes first, whoever asks; a minute later the address may again. */
    assert_int_equal(register_capped(fx->store, "b2", "192.0.2.2", TEST_T0 + 4), STORE_FULL);
    assert_int_equal(register_capped(fx->store, "a3", "192.0.2.1", TEST_T0 + 61), STORE_FULL);
    assert_int_equal(store_device_delete(fx->store, "b1"), STORE_OK);
    assert_int_equal(register_capped(fx->store, "a3", "192.0.2.1", TEST_T0 + 61), STORE_CREATED);
    assert_int_equal(register_capped(fx->store, "a2", "192.0.2.9", TEST_T0 + 62), STORE_OK);
}

/* The cap on devices counts every device however it came or went: a bulk load, an admin's
 * create, registrations, a delete, the expiry of pending devices (migration 17's count). */
static void device_cap_counts_every_way_in_and_out(void **state)
{
    struct fixture *fx = *state;
    const struct registration cap = {REGISTRATION_APPROVE, NULL, 0, 4};
    assert_int_equal(store_device_bulk_add(fx->store, "BULK", 0, 2, "0123456789abcdef", TEST_T0), STORE_OK);
    struct device_update create = {.cfgsn = -1, .if_match = IF_MATCH_NONE};
    assert_int_equal(store_device_update(fx->store, "made", &create, TEST_T0, NULL, NULL), STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, "r1", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, "r2", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_FULL);
    assert_int_equal(store_device_delete(fx->store, "made"), STORE_OK);
    assert_int_equal(store_device_register(fx->store, "r2", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, "r3", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_FULL);
    int deleted = 0;
    assert_int_equal(store_device_expire_pending(fx->store, TEST_T0 + 1, 10, &deleted), STORE_OK);
    assert_int_equal(deleted, 2); /* r1 and r2: the bulk load's are accepted */
    assert_int_equal(store_device_register(fx->store, "r3", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, "r4", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, "r5", NULL, NULL, NULL, &cap, TEST_T0, NULL, NULL),
                     STORE_FULL);
}

/* Only pending devices that registered before the limit and never sent a reading go. */
static void expire_pending_devices(void **state)
{
    struct fixture *fx = *state;
    const struct registration *approve = REGISTRATION_UNCAPPED(REGISTRATION_APPROVE);
    assert_int_equal(store_device_register(fx->store, "old", "", "", NULL, approve, TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, "new", "", "", NULL, approve, TEST_T0 + 100, NULL, NULL),
                     STORE_CREATED);
    add_open(fx->store, "accepted");
    struct seen d = {0};
    struct device_update u = no_change();
    u.state = "accepted";
    assert_int_equal(update(fx->store, "sent", &u, &d), STORE_CREATED);
    assert_int_equal(store_reading_add(fx->store, "sent", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    u.state = "pending"; /* sent back to pending after its reading */
    assert_int_equal(update(fx->store, "sent", &u, &d), STORE_OK);
    int deleted = -1;
    assert_int_equal(store_device_expire_pending(fx->store, TEST_T0 + 50, 10, &deleted), STORE_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_device_get(fx->store, "old", NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_device_get(fx->store, "new", NULL, NULL), STORE_OK);
    assert_int_equal(store_device_get(fx->store, "accepted", NULL, NULL), STORE_OK);
    assert_int_equal(store_device_get(fx->store, "sent", NULL, NULL), STORE_OK);
}

/* A key as the device's secret reads it back through store, or the status of the read. */
static enum store_status secret_of(struct store *store, const char *id, char key[SECRET_MAX_LEN + 1])
{
    struct device_trust t = {0};
    enum store_status st = store_device_trust(store, id, &t);
    memcpy(key, t.key, SECRET_MAX_LEN + 1);
    return st;
}

/* Keys are stored sealed: a store with another server key, or none, cannot read them; keys
 * stored plain (a bulk load, a database from before sealing) read as they are until sealed. */
static void keys_are_sealed_at_rest(void **state)
{
    struct fixture *fx = *state;
    static const struct server_key other_key = {{9}};
    char key[SECRET_MAX_LEN + 1], err[256];
    add_open(fx->store, "dev");
    assert_int_equal(store_device_set_key(fx->store, "dev", "a passphrase"), STORE_OK);
    assert_int_equal(secret_of(fx->store, "dev", key), STORE_OK);
    assert_string_equal(key, "a passphrase");
    assert_int_equal(store_device_bulk_add(fx->store, "B", 0, 3, "0123456789abcdef0123456789abcdef", TEST_T0),
                     STORE_OK);
    assert_int_equal(secret_of(fx->store, "B000001", key), STORE_OK);
    assert_string_equal(key, "0123456789abcdef0123456789abcdef");

    struct store *other = store_open(fx->db.path, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(secret_of(other, "dev", key), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(other), "does not open with this server key"));
    assert_int_equal(store_device_set_key(other, "dev", "x"), STORE_ERROR);
    store_use_server_key(other, &other_key);
    assert_int_equal(secret_of(other, "dev", key), STORE_ERROR);

    int64_t sealed = 0;
    assert_int_equal(store_seal_keys(fx->store, &sealed), STORE_OK);
    assert_int_equal(sealed, 3);
    assert_int_equal(store_seal_keys(fx->store, &sealed), STORE_OK);
    assert_int_equal(sealed, 0);
    assert_int_equal(secret_of(other, "B000001", key), STORE_ERROR);
    assert_int_equal(secret_of(fx->store, "B000001", key), STORE_OK);
    assert_string_equal(key, "0123456789abcdef0123456789abcdef");
    assert_int_equal(secret_of(fx->store, "dev", key), STORE_OK);
    assert_string_equal(key, "a passphrase");
    store_free(other);
}

static void poll_sets_lastseen_and_applied(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    assert_int_equal(store_device_poll(fx->store, "ghost", STORE_CALLER_UNSIGNED, 3, TEST_T0, capture, &d),
                     STORE_NOT_FOUND);
    assert_int_equal(d.calls, 0);
    assert_int_equal(store_device_register(fx->store, "dev", "10.0.0.1", "n", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_poll(fx->store, "dev", STORE_CALLER_UNSIGNED, 4, TEST_T0 + 30, capture, &d),
                     STORE_OK);
    assert_int_equal(d.lastseen, TEST_T0 + 30);
    assert_int_equal(d.cfgsn_applied, 4);
    assert_int_equal(
        store_device_poll(fx->store, "dev", STORE_CALLER_UNSIGNED, -1, TEST_T0 + 90, capture, &d), STORE_OK);
    assert_int_equal(d.lastseen, TEST_T0 + 90);
    assert_int_equal(d.cfgsn_applied, 4);
    assert_int_equal(get(fx->store, "dev").cfgsn_applied, 4);
    assert_int_equal(store_device_poll(fx->store, "dev", STORE_CALLER_UNSIGNED, 0, TEST_T0 + 91, NULL, NULL),
                     STORE_OK);
    assert_int_equal(get(fx->store, "dev").cfgsn_applied, 0);
}

/* An unsigned heartbeat for a device that must sign (it has a key, or has signed) is refused by
 * the read that serves it: nothing handed over, no time or cfgsn_applied recorded. */
static void unsigned_heartbeats_of_signing_devices_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    struct poll_facts facts;
    add_open(fx->store, "keyed");
    add_open(fx->store, "signer");
    add_open(fx->store, "plain");
    assert_int_equal(store_device_set_key(fx->store, "keyed", "00112233445566778899aabbccddeeff"), STORE_OK);
    assert_int_equal(store_device_signed(fx->store, "signer", TEST_T0, false), STORE_OK);
    for (int i = 0; i < 2; i++) {
        const char *id = i == 0 ? "keyed" : "signer";
        d.calls = 0;
        int64_t before = get(fx->store, id).lastseen;
        assert_int_equal(
            store_device_poll(fx->store, id, STORE_CALLER_UNSIGNED, 7, TEST_T0 + 50, capture, &d),
            STORE_UNPROVED);
        assert_int_equal(store_device_heartbeat(fx->store, id, STORE_CALLER_UNSIGNED, TEST_T0 + 51, &facts),
                         STORE_UNPROVED);
        assert_int_equal(d.calls, 0);
        store_flush(fx->store, true);
        assert_int_equal(get(fx->store, id).lastseen, before);
        assert_int_equal(get(fx->store, id).cfgsn_applied, -1);
        assert_int_equal(store_device_poll(fx->store, id, STORE_CALLER_PROVED, 7, TEST_T0 + 52, capture, &d),
                         STORE_OK);
        assert_int_equal(store_device_heartbeat(fx->store, id, STORE_CALLER_PROVED, TEST_T0 + 53, &facts),
                         STORE_OK);
        store_flush(fx->store, true);
        assert_int_equal(get(fx->store, id).lastseen, TEST_T0 + 53);
        assert_int_equal(get(fx->store, id).cfgsn_applied, 7);
    }
    assert_int_equal(store_device_heartbeat(fx->store, "plain", STORE_CALLER_UNSIGNED, TEST_T0 + 54, &facts),
                     STORE_OK);
    assert_int_equal(
        store_device_poll(fx->store, "plain", STORE_CALLER_UNSIGNED, 3, TEST_T0 + 55, capture, &d), STORE_OK);
    assert_int_equal(d.cfgsn_applied, 3);
}

/* A signed heartbeat's read gives the device's trust, its key opened, and records nothing: the
 * caller checks the proof, then records the heartbeat. */
static void heartbeats_to_prove_record_only_once_proved(void **state)
{
    struct fixture *fx = *state;
    struct poll_facts facts;
    add_open(fx->store, "signs");
    assert_int_equal(store_device_set_key(fx->store, "signs", "00112233445566778899aabbccddeeff"), STORE_OK);
    int64_t before = get(fx->store, "signs").lastseen;
    assert_int_equal(store_device_heartbeat(fx->store, "signs", STORE_CALLER_TO_PROVE, TEST_T0 + 60, &facts),
                     STORE_OK);
    assert_string_equal(facts.trust.key, "00112233445566778899aabbccddeeff");
    assert_string_equal(facts.trust.state, "accepted");
    assert_int_equal(facts.trust.trust, 0);
    store_flush(fx->store, true);
    assert_int_equal(get(fx->store, "signs").lastseen, before);
    assert_int_equal(store_heartbeat_seen(fx->store, "signs", &facts, TEST_T0 + 61), STORE_OK);
    store_flush(fx->store, true);
    assert_int_equal(get(fx->store, "signs").lastseen, TEST_T0 + 61);
    assert_int_equal(store_device_heartbeat(fx->store, "ghost", STORE_CALLER_TO_PROVE, TEST_T0, &facts),
                     STORE_NOT_FOUND);
}

/* The proved heartbeat is recorded by what its read gave, with no second lookup: a device deleted
 * in between takes nothing, and no other device does either. */
static void heartbeat_seen_after_delete_records_nothing(void **state)
{
    struct fixture *fx = *state;
    struct poll_facts facts;
    add_open(fx->store, "stays");
    add_open(fx->store, "goes");
    int64_t before = get(fx->store, "stays").lastseen;
    assert_int_equal(store_device_heartbeat(fx->store, "goes", STORE_CALLER_TO_PROVE, TEST_T0 + 70, &facts),
                     STORE_OK);
    assert_int_equal(store_device_delete(fx->store, "goes"), STORE_OK);
    assert_int_equal(store_heartbeat_seen(fx->store, "goes", &facts, TEST_T0 + 71), STORE_OK);
    store_flush(fx->store, true);
    assert_int_equal(get(fx->store, "stays").lastseen, before);
    struct seen d = {0};
    assert_int_equal(store_device_get(fx->store, "goes", capture, &d), STORE_NOT_FOUND);
}

static void update_raises_cfgsn_only_on_change(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    struct device_update u = no_change();
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_CREATED);
    assert_int_equal(d.cfgsn, 0);
    u.data = "{\"led\":1}";
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 1);
    assert_string_equal(d.data, "{\"led\":1}");
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 1);
    u.data = "{\"led\":2}";
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 2);
    /* A name or state change is not a new configuration. */
    u = no_change();
    u.name = "lamp";
    u.state = "accepted";
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 2);
    assert_string_equal(d.name, "lamp");
    assert_string_equal(d.data, "{\"led\":2}");
}

static void update_explicit_cfgsn(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    struct device_update u = no_change();
    u.data = "{\"a\":1}";
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_CREATED);
    u.data = "{\"a\":2}";
    u.cfgsn = 10;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 10);
    /* Lower than the current one: ignored, the data change still counts once. */
    u.data = "{\"a\":3}";
    u.cfgsn = 4;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 11);
    /* Higher without a data change still wins. */
    u = no_change();
    u.cfgsn = 20;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 20);
    u.cfgsn = 20;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 20);
}

static void update_if_match(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    struct device_update u = no_change();
    u.data = "{\"v\":1}";
    u.name = "before";
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_CREATED);
    u.data = "{\"v\":2}";
    u.if_match = 0;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 1);

    u = no_change();
    u.data = "{\"v\":3}";
    u.name = "after";
    u.state = "rejected";
    u.set_poll_interval = true;
    u.poll_interval = 30;
    u.cfgsn = 50;
    u.if_match = 0;
    d = (struct seen){0};
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_STALE);
    assert_int_equal(d.calls, 0);
    d = get(fx->store, "dev");
    assert_int_equal(d.cfgsn, 1);
    assert_string_equal(d.data, "{\"v\":2}");
    assert_string_equal(d.name, "before");
    assert_string_equal(d.state, "accepted");
    assert_int_equal(d.poll_interval, 0);

    u.if_match = 1;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.cfgsn, 50);
    assert_string_equal(d.name, "after");
}

static void update_poll_interval(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    struct device_update u = no_change();
    u.set_poll_interval = true;
    u.poll_interval = 30;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_CREATED);
    assert_int_equal(d.poll_interval, 30);
    u = no_change();
    u.name = "x";
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.poll_interval, 30);
    u.set_poll_interval = true;
    u.poll_interval = 0;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_OK);
    assert_int_equal(d.poll_interval, 0);
    assert_int_equal(get(fx->store, "dev").poll_interval, 0);
}

static void update_creates_accepted(void **state)
{
    struct fixture *fx = *state;
    struct seen d = {0};
    struct device_update u = no_change();
    u.name = "new one";
    u.data = "{\"x\":true}";
    assert_int_equal(update(fx->store, "made", &u, &d), STORE_CREATED);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.deviceid, "made");
    assert_string_equal(d.state, "accepted");
    assert_string_equal(d.name, "new one");
    assert_string_equal(d.data, "{\"x\":true}");
    assert_int_equal(d.datec, TEST_T0);
    assert_int_equal(d.lastseen, 0);
    u = no_change();
    u.state = "pending";
    assert_int_equal(update(fx->store, "made-pending", &u, &d), STORE_CREATED);
    assert_string_equal(d.state, "pending");
}

static void delete_and_set_key(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(store_device_set_key(fx->store, "dev", "00112233445566778899aabbccddeeff"),
                     STORE_NOT_FOUND);
    assert_int_equal(store_device_register(fx->store, "dev", "10.0.0.1", "n", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_false(get(fx->store, "dev").has_key);
    assert_int_equal(store_device_set_key(fx->store, "dev", "00112233445566778899aabbccddeeff"), STORE_OK);
    assert_true(get(fx->store, "dev").has_key);
    assert_int_equal(store_device_delete(fx->store, "dev"), STORE_OK);
    assert_int_equal(store_device_get(fx->store, "dev", NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_device_delete(fx->store, "dev"), STORE_NOT_FOUND);
    assert_int_equal(store_device_poll(fx->store, "dev", STORE_CALLER_UNSIGNED, -1, TEST_T0, NULL, NULL),
                     STORE_NOT_FOUND);
}

static void register_at(struct store *s, const char *id, int64_t when)
{
    assert_int_equal(store_device_register(s, id, "10.0.0.1", "n", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), when, NULL, NULL),
                     STORE_CREATED);
}

static struct ids list(struct store *s, const struct device_filter *f)
{
    struct ids ids = {0};
    int count = -1;
    assert_int_equal(store_device_list(s, f, collect_id, &ids, &count), STORE_OK);
    assert_int_equal(count, ids.n);
    return ids;
}

static struct device_filter all_devices(int limit)
{
    return (struct device_filter){.online = -1, .limit = limit, .now = TEST_T0, .default_interval = INTERVAL};
}

static void list_keyset_pages(void **state)
{
    struct fixture *fx = *state;
    static const char *const order[] = {"dev-01", "dev-02", "dev-03", "dev-04", "dev-05", "dev-06", "dev-07"};
    /* Registered out of order: pages follow the ids, not the insertion. */
    static const int insertion[] = {4, 0, 6, 2, 5, 1, 3};
    for (int i = 0; i < 7; i++)
        register_at(fx->store, order[insertion[i]], TEST_T0);
    struct device_filter f = all_devices(3);
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        struct ids ids = list(fx->store, &f);
        assert_int_equal(ids.n, page < 2 ? 3 : 1);
        for (int i = 0; i < ids.n; i++)
            assert_string_equal(ids.id[i], order[seen++]);
        f.after = order[seen - 1];
    }
    assert_int_equal(seen, 7);
    assert_int_equal(list(fx->store, &f).n, 0); /* after the last one: an empty page */
    f.after = "dev-035";                        /* a cursor that is no id still orders */
    struct ids ids = list(fx->store, &f);
    assert_string_equal(ids.id[0], "dev-04");
}

static void list_filters(void **state)
{
    struct fixture *fx = *state;
    register_at(fx->store, "alpha", TEST_T0);
    register_at(fx->store, "bravo", TEST_T0 - 130);   /* online at the edge: 2 * 60 + 10 */
    register_at(fx->store, "charlie", TEST_T0 - 131); /* just past it */
    register_at(fx->store, "delta", TEST_T0 - 40);
    struct device_update u = no_change();
    struct seen d;
    u.state = "accepted";
    u.name = "Kitchen LAMP";
    assert_int_equal(update(fx->store, "charlie", &u, &d), STORE_OK);
    u = no_change();
    u.set_poll_interval = true;
    u.poll_interval = 10; /* window 30 s: delta, seen 40 s ago, is not online */
    assert_int_equal(update(fx->store, "delta", &u, &d), STORE_OK);

    struct device_filter f = all_devices(10);
    f.state = "accepted";
    struct ids ids = list(fx->store, &f);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.id[0], "charlie");
    f.state = "pending";
    assert_int_equal(list(fx->store, &f).n, 3);
    f.state = "rejected";
    assert_int_equal(list(fx->store, &f).n, 0);

    f = all_devices(10);
    f.online = 1;
    ids = list(fx->store, &f);
    assert_int_equal(ids.n, 2);
    assert_string_equal(ids.id[0], "alpha");
    assert_string_equal(ids.id[1], "bravo");
    f.online = 0;
    ids = list(fx->store, &f);
    assert_int_equal(ids.n, 2);
    assert_string_equal(ids.id[0], "charlie");
    assert_string_equal(ids.id[1], "delta");
    f.now = TEST_T0 - 100; /* earlier: everyone seen by then is online */
    f.online = 1;
    assert_int_equal(list(fx->store, &f).n, 4);

    f = all_devices(10);
    f.q = "lamp";
    ids = list(fx->store, &f);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.id[0], "charlie");
    f.q = "RAV";
    ids = list(fx->store, &f);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.id[0], "bravo");
    f.q = "a";
    assert_int_equal(list(fx->store, &f).n, 4);
    /* No LIKE wildcards: % and _ are plain characters. */
    f.q = "%";
    assert_int_equal(list(fx->store, &f).n, 0);
    f.q = "_";
    assert_int_equal(list(fx->store, &f).n, 0);

    f = all_devices(10);
    f.state = "pending";
    f.online = 1;
    f.q = "alp";
    ids = list(fx->store, &f);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.id[0], "alpha");
}

/* Ten devices whose every sortable column has a run of 4+ equal values (so a run crosses a
 * page of 3) and three never seen (lastseen NULL); dev-0..dev-6 registered, dev-7..9 created. */
#define SORT_FLEET 10
static void make_sort_fleet(struct store *s)
{
    for (int i = 0; i < 7; i++) {
        char id[16];
        snprintf(id, sizeof id, "dev-%d", i);
        int64_t when = TEST_T0 - (i < 4 ? 0 : 10 * i);
        assert_int_equal(store_device_register(s, id, i < 5 ? "10.0.0.1" : "10.0.0.2", i % 2 ? "home" : "lab", NULL,
                                               REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), when, NULL, NULL),
                         STORE_CREATED);
    }
    static const struct {
        const char *id, *name, *state, *data;
        int64_t cfgsn;
    } edits[] = {
        {"dev-1", "Lamp", NULL, NULL, -1},       {"dev-2", "lamp", NULL, "{\"v\":1}", -1},
        {"dev-3", NULL, NULL, NULL, 5},          {"dev-4", "Lamp", NULL, NULL, -1},
        {"dev-5", "Zeta", "rejected", NULL, -1}, {"dev-6", NULL, "accepted", NULL, -1},
        {"dev-7", NULL, NULL, NULL, -1},         {"dev-8", "Lamp", NULL, NULL, -1},
        {"dev-9", "Lamp", NULL, NULL, -1},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        struct device_update u = no_change();
        u.name = edits[i].name;
        u.state = edits[i].state;
        u.data = edits[i].data;
        u.cfgsn = edits[i].cfgsn;
        struct seen d;
        enum store_status st = update(s, edits[i].id, &u, &d);
        assert_true(st == STORE_OK || st == STORE_CREATED);
    }
}

static int compare_int(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

/* The order the store promises, worked out here from the stored values: key, then id. */
static int compare_by(enum device_sort sort, const struct seen *a, const struct seen *b)
{
    int c = 0;
    switch (sort) {
    case DEVICE_SORT_ID: break;
    case DEVICE_SORT_NAME: c = strcmp(a->name, b->name); break;
    case DEVICE_SORT_STATE: c = strcmp(a->state, b->state); break;
    case DEVICE_SORT_LASTSEEN: c = compare_int(a->lastseen, b->lastseen); break; /* never seen: 0 */
    case DEVICE_SORT_IPADDR: c = strcmp(a->ipaddr, b->ipaddr); break;
    case DEVICE_SORT_SSID: c = strcmp(a->ssid, b->ssid); break;
    case DEVICE_SORT_CFGSN: c = compare_int(a->cfgsn, b->cfgsn); break;
    case DEVICE_SORT_DATEC: c = compare_int(a->datec, b->datec); break;
    case DEVICE_SORT__COUNT: fail();
    }
    return c ? c : strcmp(a->deviceid, b->deviceid);
}

/* Walks every page of f (each of f->limit but the last), the cursor the last id of each page,
 * into out; returns how many devices and sets *pages (the last, short one included). */
static int walk_sorted(struct store *s, struct device_filter f, char out[][128], int max, int *pages)
{
    int n = 0;
    char cursor[128];
    for (*pages = 1;; (*pages)++) {
        struct ids ids = list(s, &f);
        assert_true(n + ids.n <= max);
        for (int i = 0; i < ids.n; i++)
            copy_text(out[n++], 128, ids.id[i]);
        if (ids.n < f.limit)
            return n;
        copy_text(cursor, sizeof cursor, ids.id[ids.n - 1]);
        f.after = cursor;
    }
}

/* The longest run of devices in a row with equal sort keys. */
static int longest_tie(enum device_sort sort, const struct seen *d, int n)
{
    int best = 1, run = 1;
    for (int i = 1; i < n; i++) {
        struct seen a = d[i - 1], b = d[i];
        copy_text(b.deviceid, sizeof b.deviceid, a.deviceid);
        run = compare_by(sort, &a, &b) == 0 ? run + 1 : 1;
        best = run > best ? run : best;
    }
    return best;
}

static void list_sorted_pages(void **state)
{
    struct fixture *fx = *state;
    make_sort_fleet(fx->store);
    static struct seen d[SORT_FLEET];
    for (int sort = 0; sort < DEVICE_SORT__COUNT; sort++) {
        for (int descending = 0; descending <= 1; descending++) {
            struct device_filter f = all_devices(3);
            f.sort = (enum device_sort)sort;
            f.descending = descending;
            char ids[SORT_FLEET + 1][128];
            int pages;
            int n = walk_sorted(fx->store, f, ids, SORT_FLEET, &pages);
            if (n != SORT_FLEET || pages != 4)
                fail_msg("sort %d descending %d: %d devices in %d pages", sort, descending, n, pages);
            for (int i = 0; i < n; i++)
                d[i] = get(fx->store, ids[i]);
            for (int i = 1; i < n; i++) {
                int c = compare_by(f.sort, &d[i - 1], &d[i]);
                /* Strictly in order: also no device twice. */
                if (descending ? c <= 0 : c >= 0)
                    fail_msg("sort %d descending %d: %s then %s", sort, descending, ids[i - 1], ids[i]);
            }
            if (f.sort != DEVICE_SORT_ID)
                assert_true(longest_tie(f.sort, d, n) >= 4);
        }
    }
}

/* Never seen sorts as seen at 0: first oldest-first, last newest-first. */
static void list_sorted_never_seen_ends(void **state)
{
    struct fixture *fx = *state;
    make_sort_fleet(fx->store);
    struct device_filter f = all_devices(SORT_FLEET);
    f.sort = DEVICE_SORT_LASTSEEN;
    struct ids ids = list(fx->store, &f);
    assert_int_equal(ids.n, SORT_FLEET);
    assert_string_equal(ids.id[0], "dev-7");
    assert_string_equal(ids.id[2], "dev-9");
    assert_string_equal(ids.id[3], "dev-6"); /* the longest ago of those seen */
    f.descending = true;
    ids = list(fx->store, &f);
    assert_string_equal(ids.id[0], "dev-3"); /* four seen last, at the same time: by id, descending */
    assert_string_equal(ids.id[3], "dev-0");
    assert_string_equal(ids.id[7], "dev-9");
    assert_string_equal(ids.id[9], "dev-7");
}

/* Sort and filters together: only matching devices, in order, across pages. */
static void list_sorted_with_filters(void **state)
{
    struct fixture *fx = *state;
    make_sort_fleet(fx->store);
    struct device_filter f = all_devices(2);
    f.sort = DEVICE_SORT_NAME;
    f.descending = true;
    f.q = "lamp";
    char ids[SORT_FLEET + 1][128];
    int pages;
    assert_int_equal(walk_sorted(fx->store, f, ids, SORT_FLEET, &pages), 5);
    static const char *const expected[] = {"dev-2", "dev-9", "dev-8", "dev-4", "dev-1"}; /* "lamp" > "Lamp" */
    for (int i = 0; i < 5; i++)
        assert_string_equal(ids[i], expected[i]);
    f = all_devices(2);
    f.sort = DEVICE_SORT_IPADDR;
    f.state = "pending";
    assert_int_equal(walk_sorted(fx->store, f, ids, SORT_FLEET, &pages), 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(get(fx->store, ids[i]).state, "pending");
}

/* Sorted by a column, the cursor's place comes from its row: once it is deleted the store says so
 * instead of an empty last page. By id any text still orders. */
static void list_sorted_cursor_gone(void **state)
{
    struct fixture *fx = *state;
    make_sort_fleet(fx->store);
    assert_int_equal(store_device_delete(fx->store, "dev-4"), STORE_OK);
    struct device_filter f = all_devices(3);
    f.after = "dev-4";
    for (int sort = 1; sort < DEVICE_SORT__COUNT; sort++) {
        f.sort = (enum device_sort)sort;
        assert_int_equal(store_device_list(fx->store, &f, NULL, NULL, NULL), STORE_NOT_FOUND);
    }
    f.sort = DEVICE_SORT_ID;
    struct ids ids = list(fx->store, &f);
    assert_string_equal(ids.id[0], "dev-5");
    f.descending = true;
    ids = list(fx->store, &f);
    assert_string_equal(ids.id[0], "dev-3");
    f.sort = (enum device_sort)DEVICE_SORT__COUNT;
    assert_int_equal(store_device_list(fx->store, &f, NULL, NULL, NULL), STORE_ERROR);
    /* The end of a sorted walk is an empty page, not an error. */
    f = all_devices(3);
    f.sort = DEVICE_SORT_NAME;
    f.after = "dev-2"; /* "lamp": the last by name (bytes: lower case after "Zeta") */
    assert_int_equal(list(fx->store, &f).n, 0);
}

/* The readings stored (the admin page's count): accepted ones only. */
static void readings_counted(void **state)
{
    struct fixture *fx = *state;
    int64_t n = -1;
    assert_int_equal(store_reading_count(fx->store, &n), STORE_OK);
    assert_int_equal(n, 0);
    struct device_update u = no_change();
    struct seen d;
    assert_int_equal(update(fx->store, "r", &u, &d), STORE_CREATED);
    for (int seqn = 1; seqn <= 3; seqn++)
        assert_int_equal(store_reading_add(fx->store, "r", seqn, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                         STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "r", 3, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                     STORE_STALE); /* a replay is not stored */
    assert_int_equal(store_reading_count(fx->store, &n), STORE_OK);
    assert_int_equal(n, 3);
}

/* The metrics' gauges: by state, and by liveness at the edges of each window. */
static void fleet_counts(void **state)
{
    struct fixture *fx = *state;
    struct store_fleet f;
    assert_int_equal(store_fleet(fx->store, TEST_T0, INTERVAL, &f), STORE_OK);
    assert_int_equal(f.pending + f.accepted + f.rejected + f.online + f.overdue + f.offline, 0);
    assert_true(f.database_bytes > 0);
    register_at(fx->store, "online", TEST_T0 - 130);  /* 2 * 60 + 10: online at the edge */
    register_at(fx->store, "overdue", TEST_T0 - 131); /* just past it */
    register_at(fx->store, "late", TEST_T0 - 300);    /* 5 * 60: overdue at the edge */
    register_at(fx->store, "offline", TEST_T0 - 301);
    struct device_update u = no_change();
    struct seen d;
    assert_int_equal(update(fx->store, "never", &u, &d), STORE_CREATED); /* accepted, never seen */
    u.state = "rejected";
    assert_int_equal(update(fx->store, "offline", &u, &d), STORE_OK);
    u = no_change();
    u.set_poll_interval = true;
    u.poll_interval = 600; /* its own interval: online for 1210 s */
    assert_int_equal(update(fx->store, "late", &u, &d), STORE_OK);
    assert_int_equal(store_fleet(fx->store, TEST_T0, INTERVAL, &f), STORE_OK);
    assert_int_equal(f.pending, 3);
    assert_int_equal(f.accepted, 1);
    assert_int_equal(f.rejected, 1);
    assert_int_equal(f.online, 2);
    assert_int_equal(f.overdue, 1);
    assert_int_equal(f.offline, 2);
}

struct token_names {
    int n;
    char name[4][64];
    int64_t created[4], expires[4], last_used[4];
};

static void collect_token(const struct token_info *token, void *user_data)
{
    struct token_names *t = user_data;
    assert_true(t->n < 4);
    copy_text(t->name[t->n], sizeof t->name[0], token->name);
    t->created[t->n] = token->created;
    t->expires[t->n] = token->expires;
    t->last_used[t->n++] = token->last_used;
}

static void tokens(void **state)
{
    struct fixture *fx = *state;
    unsigned char h1[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN], h3[STORE_TOKEN_HASH_LEN];
    memset(h1, 0x11, sizeof h1);
    memset(h2, 0x22, sizeof h2);
    memcpy(h3, h1, sizeof h3);
    h3[31] ^= 1;
    int64_t now = TEST_T0 + 10;
    assert_int_equal(store_token_check(fx->store, h1, now, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_token_add(fx->store, "ops", h1, TEST_T0, 0), STORE_OK);
    assert_int_equal(store_token_add(fx->store, "ops", h2, TEST_T0, 0), STORE_EXISTS);
    assert_int_equal(store_token_add(fx->store, "other", h1, TEST_T0, 0), STORE_EXISTS);
    assert_int_equal(store_token_add(fx->store, "ci", h2, TEST_T0 + 1, TEST_T0 + 3600), STORE_OK);
    char name[STORE_TOKEN_NAME_MAX + 1] = "";
    assert_int_equal(store_token_check(fx->store, h1, now, name), STORE_OK);
    assert_string_equal(name, "ops");
    assert_int_equal(store_token_check(fx->store, h2, now, NULL), STORE_OK);
    assert_int_equal(store_token_check(fx->store, h3, now, NULL), STORE_NOT_FOUND);

    struct token_names t = {0};
    assert_int_equal(store_token_list(fx->store, collect_token, &t), STORE_OK);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.name[0], "ci");
    assert_int_equal(t.created[0], TEST_T0 + 1);
    assert_int_equal(t.expires[0], TEST_T0 + 3600);
    assert_int_equal(t.last_used[0], now);
    assert_string_equal(t.name[1], "ops");
    assert_int_equal(t.created[1], TEST_T0);
    assert_int_equal(t.expires[1], 0);

    /* A use within the minute is not written again; a later one is; an expired token is refused. */
    assert_int_equal(store_token_check(fx->store, h2, now + TOKEN_USE_STEP_S - 1, NULL), STORE_OK);
    assert_int_equal(store_token_check(fx->store, h2, TEST_T0 + 3599, NULL), STORE_OK);
    assert_int_equal(store_token_check(fx->store, h2, TEST_T0 + 3600, NULL), STORE_STALE);
    t = (struct token_names){0};
    assert_int_equal(store_token_list(fx->store, collect_token, &t), STORE_OK);
    assert_int_equal(t.last_used[0], TEST_T0 + 3599);

    assert_int_equal(store_token_revoke(fx->store, "ops"), STORE_OK);
    assert_int_equal(store_token_check(fx->store, h1, now, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_token_check(fx->store, h2, now, NULL), STORE_OK);
    assert_int_equal(store_token_revoke(fx->store, "ops"), STORE_NOT_FOUND);
    t = (struct token_names){0};
    assert_int_equal(store_token_list(fx->store, collect_token, &t), STORE_OK);
    assert_int_equal(t.n, 1);
}

/* Text that would break SQL built by hand is stored and read back byte for byte. */
static void hostile_text_stored_literally(void **state)
{
    struct fixture *fx = *state;
    static const char *const id = "x'); DROP TABLE devices;--";
    static const char *const name = "'; DROP TABLE devices; --";
    static const char *const data = "{\"q\":\"\\\"; DELETE FROM devices; --\",\"r\":\"' OR '1'='1\"}";
    static const char *const ssid = "\" OR 1=1 --";
    struct seen d = {0};
    struct device_update u = no_change();
    u.name = name;
    u.data = data;
    assert_int_equal(update(fx->store, id, &u, &d), STORE_CREATED);
    assert_int_equal(store_device_register(fx->store, id, "::1", ssid, NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_CLOSED), TEST_T0, NULL, NULL),
                     STORE_OK);
    register_at(fx->store, "plain", TEST_T0);
    d = get(fx->store, id);
    assert_string_equal(d.deviceid, id);
    assert_string_equal(d.name, name);
    assert_string_equal(d.data, data);
    assert_string_equal(d.ssid, ssid);
    struct device_filter f = all_devices(10);
    f.q = "' OR '1'='1";
    assert_int_equal(list(fx->store, &f).n, 0);
    f.q = "drop table";
    struct ids ids = list(fx->store, &f);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.id[0], id);
    f = all_devices(10);
    assert_int_equal(list(fx->store, &f).n, 2);
    assert_int_equal(store_token_revoke(fx->store, "' OR '1'='1"), STORE_NOT_FOUND);
}

/* The audit entries of a page, in order. */
struct audit_page {
    int n;
    int64_t id[8];
    char action[8][32], target[8][64], actor[8][64];
    bool before_null[8];
};

static void collect_entry(const struct audit_entry *e, void *user_data)
{
    struct audit_page *p = user_data;
    assert_true(p->n < 8);
    p->id[p->n] = e->id;
    copy_text(p->action[p->n], sizeof p->action[0], e->action);
    copy_text(p->target[p->n], sizeof p->target[0], e->target);
    copy_text(p->actor[p->n], sizeof p->actor[0], e->actor);
    p->before_null[p->n++] = e->before == NULL;
}

static struct audit_page audit_page(struct store *s, const char *device, int64_t since, int64_t after, int limit)
{
    struct audit_page p = {0};
    int count = -1;
    struct audit_filter f = {.device = device, .since = since, .after = after, .limit = limit};
    assert_int_equal(store_audit_list(s, &f, collect_entry, &p, &count), STORE_OK);
    assert_int_equal(count, p.n);
    return p;
}

static enum store_status audit_at(struct store *s, int64_t at, const char *action, const char *target)
{
    struct audit_entry e = {.at = at, .via = "api", .actor = "ops", .action = action, .target = target,
                            .after = "{\"x\":1}"};
    return store_audit_add(s, &e);
}

/* A change and its audit entry commit together or not at all. */
static void audit_entry_goes_with_its_change(void **state)
{
    struct fixture *fx = *state;
    struct device_update u = no_change();
    struct seen d;
    assert_int_equal(store_write_begin(fx->store), STORE_OK);
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_CREATED);
    assert_int_equal(audit_at(fx->store, TEST_T0, "device.create", "dev"), STORE_OK);
    assert_int_equal(store_write_end(fx->store, false), STORE_OK);
    assert_int_equal(store_device_get(fx->store, "dev", NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(audit_page(fx->store, NULL, 0, -1, 10).n, 0);

    assert_int_equal(store_write_begin(fx->store), STORE_OK);
    assert_int_equal(store_device_lock(fx->store, "dev", NULL, NULL), STORE_NOT_FOUND);
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_CREATED);
    assert_int_equal(audit_at(fx->store, TEST_T0, "device.create", "dev"), STORE_OK);
    assert_int_equal(store_device_lock(fx->store, "dev", capture, &d), STORE_OK);
    assert_string_equal(d.deviceid, "dev");
    assert_int_equal(store_write_end(fx->store, true), STORE_OK);
    assert_int_equal(store_device_get(fx->store, "dev", NULL, NULL), STORE_OK);
    struct audit_page p = audit_page(fx->store, NULL, 0, -1, 10);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.action[0], "device.create");
    assert_string_equal(p.actor[0], "ops");
    assert_true(p.before_null[0]);

    /* A refused change inside (412) leaves the rest of the transaction usable. */
    assert_int_equal(store_write_begin(fx->store), STORE_OK);
    u.if_match = 99;
    assert_int_equal(update(fx->store, "dev", &u, &d), STORE_STALE);
    assert_int_equal(store_write_end(fx->store, false), STORE_OK);
    assert_int_equal(audit_page(fx->store, NULL, 0, -1, 10).n, 1);
}

/* Newest first, in keyset pages; by device (its "device.*" actions only), since a time; pruned by time. */
static void audit_pages_and_prune(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(audit_at(fx->store, TEST_T0 - 300, "device.update", "a"), STORE_OK);
    assert_int_equal(audit_at(fx->store, TEST_T0 - 200, "device.update", "b"), STORE_OK);
    assert_int_equal(audit_at(fx->store, TEST_T0 - 100, "token.create", "a"), STORE_OK); /* a token named a */
    assert_int_equal(audit_at(fx->store, TEST_T0, "device.key", "a"), STORE_OK);
    struct audit_page all = audit_page(fx->store, NULL, 0, -1, 10);
    assert_int_equal(all.n, 4);
    for (int i = 1; i < all.n; i++)
        assert_true(all.id[i] < all.id[i - 1]);
    assert_string_equal(all.action[0], "device.key");
    struct audit_page first = audit_page(fx->store, NULL, 0, -1, 3);
    struct audit_page next = audit_page(fx->store, NULL, 0, first.id[2], 3);
    assert_int_equal(first.n, 3);
    assert_int_equal(next.n, 1);
    assert_int_equal(next.id[0], all.id[3]);
    struct audit_page of_a = audit_page(fx->store, "a", 0, -1, 10);
    assert_int_equal(of_a.n, 2);
    assert_string_equal(of_a.action[0], "device.key");
    assert_string_equal(of_a.action[1], "device.update");
    assert_int_equal(audit_page(fx->store, "a", 0, of_a.id[0], 10).n, 1);
    assert_int_equal(audit_page(fx->store, NULL, TEST_T0 - 200, -1, 10).n, 3);
    assert_int_equal(audit_page(fx->store, "nobody", 0, -1, 10).n, 0);
    int deleted = -1;
    assert_int_equal(store_audit_prune(fx->store, TEST_T0 - 150, 1, &deleted), STORE_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_audit_prune(fx->store, TEST_T0 - 150, 10, &deleted), STORE_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_audit_prune(fx->store, TEST_T0 - 150, 10, &deleted), STORE_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(audit_page(fx->store, NULL, 0, -1, 10).n, 2);
}

/* The devices gone offline, latest first by when they turned offline (5 intervals after their
 * last heartbeat); and the newest reading's id, one up per reading taken. */
static void overview_offline_and_readings(void **state)
{
    struct fixture *fx = *state;
    register_at(fx->store, "online", TEST_T0 - 10);
    register_at(fx->store, "overdue", TEST_T0 - 200);
    register_at(fx->store, "gone-old", TEST_T0 - 5000);
    register_at(fx->store, "gone-new", TEST_T0 - 400);
    register_at(fx->store, "slow", TEST_T0 - 950); /* interval 180: offline since T0 - 50 */
    struct device_update u = no_change();
    u.set_poll_interval = true;
    u.poll_interval = 180;
    struct seen d;
    assert_int_equal(update(fx->store, "slow", &u, &d), STORE_OK);
    u = no_change();
    assert_int_equal(update(fx->store, "never", &u, &d), STORE_CREATED);
    struct ids ids = {0};
    assert_int_equal(store_recently_offline(fx->store, TEST_T0, INTERVAL, 10, collect_id, &ids), STORE_OK);
    assert_int_equal(ids.n, 3);
    assert_string_equal(ids.id[0], "slow");
    assert_string_equal(ids.id[1], "gone-new");
    assert_string_equal(ids.id[2], "gone-old");
    ids.n = 0;
    assert_int_equal(store_recently_offline(fx->store, TEST_T0, INTERVAL, 1, collect_id, &ids), STORE_OK);
    assert_int_equal(ids.n, 1);

    int64_t before = -1, after = -1;
    assert_int_equal(store_reading_last_id(fx->store, &before), STORE_OK);
    assert_int_equal(before, 0);
    u.state = "accepted";
    assert_int_equal(update(fx->store, "online", &u, &d), STORE_OK);
    for (int seqn = 1; seqn <= 3; seqn++)
        assert_int_equal(
            store_reading_add(fx->store, "online", seqn, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "online", 3, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                     STORE_STALE);
    assert_int_equal(store_reading_last_id(fx->store, &after), STORE_OK);
    assert_int_equal(after - before, 3);
}

/* The alerts due now, copied out: kind, subject, from, to, lastseen and detail of each. */
struct due_alerts {
    int n;
    int64_t id[8], lastseen[8];
    char kind[8][16], subject[8][32], from[8][16], to[8][16], detail[8][64];
};

static void collect_alert(const struct alert *a, void *user_data)
{
    struct due_alerts *d = user_data;
    assert_true(d->n < 8);
    d->id[d->n] = a->id;
    d->lastseen[d->n] = a->lastseen;
    copy_text(d->kind[d->n], sizeof d->kind[0], a->kind);
    copy_text(d->subject[d->n], sizeof d->subject[0], a->subject);
    copy_text(d->from[d->n], sizeof d->from[0], a->liveness_from ? a->liveness_from : "-");
    copy_text(d->to[d->n], sizeof d->to[0], a->liveness_to ? a->liveness_to : "-");
    copy_text(d->detail[d->n], sizeof d->detail[0], a->detail ? a->detail : "-");
    d->n++;
}

static struct due_alerts due_at(struct store *s, int64_t now)
{
    struct due_alerts d = {0};
    assert_int_equal(store_alert_due(s, now, 8, collect_alert, &d), STORE_OK);
    return d;
}

static int sweep_at(struct store *s, int64_t now)
{
    int judged = -1;
    store_flush(s, true); /* PostgreSQL's heartbeat times kept back */
    assert_int_equal(store_alert_sweep(s, now, INTERVAL, 100, &judged), STORE_OK);
    return judged;
}

/* A device's liveness changes become alerts in the outbox, in order, each once: the first judgement
 * alerts nothing; online turns overdue the second after 2 intervals + 10 s, offline after 5
 * intervals, and online again when it is seen. Only the oldest of a subject is due. */
static void alerts_follow_liveness(void **state)
{
    struct fixture *fx = *state;
    register_at(fx->store, "a", TEST_T0);
    assert_int_equal(sweep_at(fx->store, TEST_T0), 1);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 130), 0); /* still online: not due */
    assert_int_equal(due_at(fx->store, TEST_T0 + 130).n, 0);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 131), 1);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 131), 0); /* judged once */
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 300), 0);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 301), 1);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 5000), 0); /* offline: never due */
    assert_int_equal(store_device_poll(fx->store, "a", STORE_CALLER_UNSIGNED, -1, TEST_T0 + 5001, NULL, NULL),
                     STORE_OK);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 5001), 1);

    struct due_alerts d = due_at(fx->store, TEST_T0 + 5001);
    assert_int_equal(d.n, 1); /* a's oldest only */
    assert_string_equal(d.kind[0], "overdue");
    assert_string_equal(d.subject[0], "a");
    assert_string_equal(d.from[0], "online");
    assert_string_equal(d.to[0], "overdue");
    assert_int_equal(d.lastseen[0], TEST_T0);
    int64_t overdue = d.id[0];

    /* Another kind, with its own subject and fields; retried later, it waits, and a's is due. */
    assert_int_equal(store_alert_enqueue(fx->store, ALERT_OFFLINE, "rollout:1", TEST_T0, "{\"rollout\":1}"), STORE_OK);
    d = due_at(fx->store, TEST_T0 + 5001);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.subject[1], "rollout:1");
    assert_string_equal(d.detail[1], "{\"rollout\":1}");
    assert_string_equal(d.to[1], "-");
    assert_int_equal(store_alert_retry(fx->store, overdue, TEST_T0 + 6000), STORE_OK);
    d = due_at(fx->store, TEST_T0 + 5001);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.subject[0], "rollout:1");
    assert_int_equal(store_alert_done(fx->store, d.id[0], false), STORE_OK);
    assert_int_equal(store_alert_done(fx->store, d.id[0], false), STORE_NOT_FOUND); /* counted once */

    d = due_at(fx->store, TEST_T0 + 6000);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.id[0], overdue);
    assert_int_equal(store_alert_done(fx->store, overdue, true), STORE_OK);
    d = due_at(fx->store, TEST_T0 + 6000);
    assert_string_equal(d.kind[0], "offline");
    assert_string_equal(d.from[0], "overdue");
    assert_int_equal(store_alert_done(fx->store, d.id[0], true), STORE_OK);
    d = due_at(fx->store, TEST_T0 + 6000);
    assert_string_equal(d.kind[0], "online");
    assert_string_equal(d.from[0], "offline");
    assert_int_equal(d.lastseen[0], TEST_T0 + 5001);

    struct alert_counts c;
    assert_int_equal(store_alert_counts(fx->store, &c), STORE_OK);
    assert_int_equal(c.pending, 1);
    assert_int_equal(c.sent, 2);
    assert_int_equal(c.failed, 1);
    /* A deleted device's alerts are still delivered. */
    assert_int_equal(store_device_delete(fx->store, "a"), STORE_OK);
    assert_int_equal(due_at(fx->store, TEST_T0 + 6000).n, 1);
    assert_int_equal(sweep_at(fx->store, TEST_T0 + 7000), 0);
}

/* One sweeper per database: a second connection does not get the lead while the first holds it,
 * and takes it once the first is gone. */
static void alert_lead_is_one(void **state)
{
    struct fixture *fx = *state;
    struct store *other = open_store(fx->db.path);
    assert_int_equal(store_alert_lead(fx->store), STORE_OK);
    assert_int_equal(store_alert_lead(fx->store), STORE_OK); /* still */
    assert_int_equal(store_alert_lead(other), STORE_STALE);
    store_free(fx->store);
    fx->store = open_store(fx->db.path);
    assert_int_equal(store_alert_lead(other), STORE_OK);
    assert_int_equal(store_alert_lead(fx->store), STORE_STALE);
    store_free(other);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(open_again_keeps_rows),
        T(alerts_follow_liveness),
        T(alert_lead_is_one),
        T(seqn_reset_starts_a_new_epoch),
        T(a_device_rejected_since_takes_no_reading),
        T(no_v1_after_v2),
        T(readings_of_many_devices_at_once),
        T(signed_calls_change_state_once),
        T(read_sees_one_snapshot),
        T(prune_deletes_old_readings_in_batches),
        T(sync_every_commit),
        T(register_approve_makes_pending),
        T(register_open_makes_accepted),
        T(register_closed_only_known),
        T(register_known_updates_and_keeps_state),
        T(register_caps_new_devices),
        T(device_cap_counts_every_way_in_and_out),
        T(expire_pending_devices),
        T(keys_are_sealed_at_rest),
        T(poll_sets_lastseen_and_applied),
        T(unsigned_heartbeats_of_signing_devices_are_refused),
        T(heartbeats_to_prove_record_only_once_proved),
        T(heartbeat_seen_after_delete_records_nothing),
        T(update_raises_cfgsn_only_on_change),
        T(update_explicit_cfgsn),
        T(update_if_match),
        T(update_poll_interval),
        T(update_creates_accepted),
        T(delete_and_set_key),
        T(list_keyset_pages),
        T(list_filters),
        T(list_sorted_pages),
        T(list_sorted_never_seen_ends),
        T(list_sorted_with_filters),
        T(list_sorted_cursor_gone),
        T(readings_counted),
        T(fleet_counts),
        T(tokens),
        T(hostile_text_stored_literally),
        T(audit_entry_goes_with_its_change),
        T(audit_pages_and_prune),
        T(overview_offline_and_readings),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
