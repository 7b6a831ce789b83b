/* Unit tests of what only the PostgreSQL backend has, on a database of the PROVD_TEST_PG cluster made
 * afresh per test (it fails without one): its invariants under concurrent writers (processes, each
 * with its own connection, as provd's workers on several hosts), day partitions and retention,
 * reconnecting after a lost connection, refusals at open, and bucket answers equal to SQLite's. */
#include "testlib.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "migrations.h"
#include "store.h"

#define MAX_RACERS 64

struct fixture {
    struct tempdb db;
    struct store *store;
    PGconn *conn; /* the test's own connection to the same database */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tempdb_make(&fx->db);
    fx->store = open_store(fx->db.path);
    fx->conn = test_pg_connect(fx->db.pgname);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    PQfinish(fx->conn);
    store_free(fx->store);
    tempdb_remove(&fx->db);
    free(fx);
    return 0;
}

/* The one value of a query of the test's own, as text copied into out. */
/* The one value sql returns, with the text parameters $1..$n; fails the test otherwise. */
static char *query_text_with(PGconn *conn, const char *sql, int n, const char *const *params, char *out,
                             size_t len)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        char why[256];
        snprintf(why, sizeof why, "%s", PQresultErrorMessage(res));
        PQclear(res);
        fail_msg("%s: %s", sql, why);
    }
    snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

static int64_t query_int_with(PGconn *conn, const char *sql, int n, const char *const *params)
{
    char text[32];
    return strtoll(query_text_with(conn, sql, n, params, text, sizeof text), NULL, 10);
}

static int64_t query_int(PGconn *conn, const char *sql)
{
    return query_int_with(conn, sql, 0, NULL);
}

static size_t reading_text(int64_t seqn, char *buf, size_t len, void *user_data)
{
    (void)user_data;
    int w = snprintf(buf, len, "{\"SEQN\":%lld,\"s\":\"tab\\there\"}", (long long)seqn);
    return w > 0 && (size_t)w < len ? (size_t)w : 0;
}

/* ---- racers: processes that each open the store, wait for the others, then do one thing ---- */

typedef enum store_status (*race_fn)(struct store *s, int i, const void *arg);

struct race {
    int n;
    int count[STORE_UNAVAILABLE + 2]; /* how many ended with each status; the last: no store */
};

/* Runs fn in n processes at once (each with its own store on path: its own connection), started
 * together once all are connected. */
static struct race race(const char *path, int n, race_fn fn, const void *arg)
{
    assert_true(n <= MAX_RACERS);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t parent = getpid(), pids[MAX_RACERS];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] > 0)
            continue;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(STORE_UNAVAILABLE + 1);
        close(ready[0]);
        close(go[1]);
        char err[512], byte = 1;
        char uri[sizeof((struct tempdb *)0)->path + 32];
        snprintf(uri, sizeof uri, "%s?connect_timeout=30", path); /* 50 connecting at once, on 2 cores */
        struct store *s = store_open(uri, err, sizeof err);
        if (!s)
            fprintf(stderr, "racer %d: %s\n", i, err);
        if (write(ready[1], &byte, 1) != 1 || !s)
            _exit(STORE_UNAVAILABLE + 1);
        if (read(go[0], &byte, 1) != 0) /* the end of the pipe: everyone is ready */
            _exit(STORE_UNAVAILABLE + 1);
        enum store_status st = fn(s, i, arg);
        if (st == STORE_ERROR || st == STORE_UNAVAILABLE)
            fprintf(stderr, "racer %d: %s\n", i, store_errmsg(s));
        store_free(s);
        _exit(st);
    }
    close(ready[1]);
    close(go[0]);
    char byte;
    for (int i = 0; i < n; i++)
        assert_int_equal(read(ready[0], &byte, 1), 1);
    close(go[1]);
    close(ready[0]);
    struct race r = {.n = n};
    for (int i = 0; i < n; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        assert_true(code >= 0 && code <= STORE_UNAVAILABLE + 1);
        r.count[code]++;
    }
    return r;
}

static void add_open(struct store *s, const char *id)
{
    assert_int_equal(store_device_register(s, id, "10.0.0.1", "net", NULL, REGISTRATION_UNCAPPED(REGISTRATION_OPEN),
                                           TEST_T0, NULL, NULL),
                     STORE_CREATED);
}

static enum store_status send_reading(struct store *s, int i, const void *arg)
{
    (void)i;
    const int64_t *seqn = arg;
    char json[64];
    int len = snprintf(json, sizeof json, "{\"SEQN\":%lld}", (long long)*seqn);
    return store_reading_add(s, "racer", *seqn, TEST_T0, TS_NONE, json, (size_t)len, 0, DEVICE_TRUST_V2);
}

static bool count_reading(const struct reading *r, void *user_data)
{
    (void)r;
    (*(int *)user_data)++;
    return true;
}

static int stored_readings(struct store *s, const char *id)
{
    struct reading_filter all = {
        .since = INT64_MIN, .until = INT64_MAX, .after = -1, .ascending = true, .limit = -1};
    int n = 0;
    assert_int_equal(store_reading_list(s, id, &all, count_reading, &n), STORE_OK);
    return n;
}

/* The same reading sent by 8 workers at once: one stores it, the others are told it is stale. */
static void same_reading_at_once_stored_once(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "racer");
    for (int64_t seqn = 1; seqn <= 5; seqn++) {
        struct race r = race(fx->db.path, 8, send_reading, &seqn);
        if (r.count[STORE_OK] != 1 || r.count[STORE_STALE] != 7)
            fail_msg("SEQN %lld: %d stored, %d stale of 8", (long long)seqn, r.count[STORE_OK],
                     r.count[STORE_STALE]);
    }
    assert_int_equal(stored_readings(fx->store, "racer"), 5);
    assert_int_equal(query_int(fx->conn, "SELECT last_seqn FROM devices WHERE deviceid = 'racer'"), 5);
}

#define BATCH_DEVICES 40
#define BATCH_ROUNDS  3

/* Racer i's batches: one reading of each of BATCH_DEVICES devices per round, in id order for an
 * even i and in the reverse order for an odd one. Returns the first failure. */
static enum store_status send_batches(struct store *s, int i, const void *arg)
{
    (void)arg;
    char ids[BATCH_DEVICES][16];
    struct reading_new r[BATCH_DEVICES];
    enum store_status status[BATCH_DEVICES], st = STORE_OK;
    for (int round = 0; round < BATCH_ROUNDS && st == STORE_OK; round++) {
        for (int k = 0; k < BATCH_DEVICES; k++) {
            snprintf(ids[k], sizeof ids[k], "b%02d", i % 2 ? BATCH_DEVICES - 1 - k : k);
            r[k] = (struct reading_new){ids[k], round * 8 + i + 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2};
        }
        st = store_readings_add(s, r, BATCH_DEVICES, status);
    }
    return st;
}

/* Batches of the same devices in opposite orders from 8 connections at once: the rows are locked
 * in one order, so none waits for another forever (a deadlock would fail one of them). */
static void overlapping_batches_at_once_never_deadlock(void **state)
{
    struct fixture *fx = *state;
    char id[16];
    for (int k = 0; k < BATCH_DEVICES; k++) {
        snprintf(id, sizeof id, "b%02d", k);
        add_open(fx->store, id);
    }
    struct race r = race(fx->db.path, 8, send_batches, NULL);
    if (r.count[STORE_OK] != 8)
        fail_msg("%d of 8 racers' batches all went through", r.count[STORE_OK]);
    /* every device holds the last round's highest SEQN */
    assert_int_equal(query_int(fx->conn, "SELECT count(*) FROM devices WHERE deviceid LIKE 'b__' AND last_seqn = 24"),
                     BATCH_DEVICES);
}

/* A reading the database refuses (not UTF-8), or that no text parameter can carry (a NUL), fails
 * alone: the others of its batch are stored. */
static void a_refused_reading_fails_alone(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "good");
    add_open(fx->store, "latin1");
    add_open(fx->store, "nul");
    const char *latin1 = "{\"a\":\"\xe9\"}";
    struct reading_new r[] = {
        {"latin1", 1, TEST_T0, TS_NONE, latin1, strlen(latin1), 0, DEVICE_TRUST_V2},
        {"good", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2},
        {"nul", 1, TEST_T0, TS_NONE, "{\"a\":\"\0\"}", 10, 0, DEVICE_TRUST_V2},
    };
    readings_answer(fx->store, r, 3, STORE_ERROR, (enum store_status[]){STORE_ERROR, STORE_OK, STORE_ERROR});
    assert_int_equal(stored_readings(fx->store, "good"), 1);
    assert_int_equal(stored_readings(fx->store, "latin1") + stored_readings(fx->store, "nul"), 0);
    r[0] = (struct reading_new){"latin1", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2};
    readings_answer(fx->store, r, 1, STORE_OK, (enum store_status[]){STORE_OK}); /* nothing claimed its SEQN */
}

struct if_match {
    int64_t cfgsn;
    int round; /* in the data too: each change is a change (the same data keeps the cfgsn) */
};

static enum store_status put_if_match(struct store *s, int i, const void *arg)
{
    const struct if_match *m = arg;
    char data[32];
    snprintf(data, sizeof data, "{\"v\":%d,\"r\":%d}", i, m->round);
    struct device_update u = {.data = data, .cfgsn = -1, .if_match = m->cfgsn};
    return store_device_update(s, "contested", &u, TEST_T0, NULL, NULL);
}

static void capture_cfgsn(const struct device *d, void *user_data)
{
    *(int64_t *)user_data = d->cfgsn;
}

static int64_t cfgsn_of(struct store *s, const char *id)
{
    int64_t cfgsn = -1;
    assert_int_equal(store_device_get(s, id, capture_cfgsn, &cfgsn), STORE_OK);
    return cfgsn;
}

/* 50 admins change one device with the same If-Match at once: one wins per cfgsn, the others are
 * told theirs is stale. */
static void same_if_match_at_once_one_wins(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "contested");
    for (int round = 0; round < 3; round++) {
        struct if_match m = {cfgsn_of(fx->store, "contested"), round};
        assert_int_equal(m.cfgsn, round);
        struct race r = race(fx->db.path, 50, put_if_match, &m);
        if (r.count[STORE_OK] != 1 || r.count[STORE_STALE] != 49)
            fail_msg("round %d: %d won, %d stale of 50", round, r.count[STORE_OK], r.count[STORE_STALE]);
        assert_int_equal(cfgsn_of(fx->store, "contested"), round + 1);
    }
}

static enum store_status put_any(struct store *s, int i, const void *arg)
{
    (void)arg;
    char data[32];
    snprintf(data, sizeof data, "{\"v\":%d}", i);
    struct device_update u = {.data = data, .cfgsn = -1, .if_match = IF_MATCH_NONE};
    return store_device_update(s, "fresh", &u, TEST_T0, NULL, NULL);
}

/* 20 admins create one device at once without If-Match: one creates it, the others change it, each
 * change of the data counted once. */
static void concurrent_creates_become_updates(void **state)
{
    struct fixture *fx = *state;
    struct race r = race(fx->db.path, 20, put_any, NULL);
    if (r.count[STORE_CREATED] != 1 || r.count[STORE_OK] != 19)
        fail_msg("%d created, %d changed of 20", r.count[STORE_CREATED], r.count[STORE_OK]);
    assert_int_equal(cfgsn_of(fx->store, "fresh"), 19);
}

static enum store_status register_newborn(struct store *s, int i, const void *arg)
{
    (void)i, (void)arg;
    return store_device_register(s, "newborn", "10.0.0.9", "net", NULL, REGISTRATION_UNCAPPED(REGISTRATION_APPROVE),
                                 TEST_T0, NULL, NULL);
}

/* 30 first registrations of one id at once: one row, one STORE_CREATED, the rest STORE_OK. */
static void first_registrations_at_once_make_one_device(void **state)
{
    struct fixture *fx = *state;
    struct race r = race(fx->db.path, 30, register_newborn, NULL);
    if (r.count[STORE_CREATED] != 1 || r.count[STORE_OK] != 29)
        fail_msg("%d created, %d registered of 30", r.count[STORE_CREATED], r.count[STORE_OK]);
    assert_int_equal(query_int(fx->conn, "SELECT count(*) FROM devices WHERE deviceid = 'newborn'"), 1);
}

static enum store_status open_only(struct store *s, int i, const void *arg)
{
    (void)i, (void)arg;
    return store_ping(s);
}

/* Workers of every host start at once on an empty database: one migrates, all open. */
static void concurrent_opens_migrate_once(void **state)
{
    (void)state;
    struct tempdb fresh;
    tempdb_make(&fresh);
    struct race r = race(fresh.path, 12, open_only, NULL);
    assert_int_equal(r.count[STORE_OK], 12);
    PGconn *conn = test_pg_connect(fresh.pgname);
    assert_int_equal(query_int(conn, "SELECT count(*) FROM provd_schema"), 1);
    assert_int_equal(query_int(conn, "SELECT version FROM provd_schema"), provd_pg_migration_count);
    PQfinish(conn);
    tempdb_remove(&fresh);
}

/* ---- partitions and retention ---- */

/* The start of the UTC day of t. */
static int64_t day_start(int64_t t)
{
    return t - t % 86400;
}

/* Which partition holds the device's reading seqn. */
static char *partition_of(PGconn *conn, const char *deviceid, int64_t seqn, char *out, size_t len)
{
    char number[24];
    snprintf(number, sizeof number, "%lld", (long long)seqn);
    const char *params[] = {deviceid, number};
    return query_text_with(
        conn, "SELECT tableoid::regclass::text FROM telemetry WHERE deviceid = $1 AND seqn = $2::bigint", 2,
        params, out, len);
}

static char *day_partition(int64_t t, char *out, size_t len)
{
    time_t when = (time_t)t;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(out, len, "telemetry_%Y%m%d", &tm);
    return out;
}

static bool partition_exists(PGconn *conn, const char *name)
{
    char text[8];
    const char *params[] = {name};
    return query_text_with(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, text, sizeof text)[0] ==
           't';
}

/* Readings land in their day's partition (made ahead, yesterday to two weeks on), or for a day
 * without one in the default partition, and are listed alike. */
static void readings_land_in_their_day(void **state)
{
    struct fixture *fx = *state;
    int64_t now = time(NULL);
    add_open(fx->store, "daily");
    assert_int_equal(store_reading_add(fx->store, "daily", 1, now - 86400, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "daily", 2, now, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "daily", 3, now + 14 * 86400, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "daily", 4, now + 100 * 86400, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    char got[64], want[64];
    assert_string_equal(partition_of(fx->conn, "daily", 1, got, sizeof got),
                        day_partition(now - 86400, want, sizeof want));
    assert_string_equal(partition_of(fx->conn, "daily", 2, got, sizeof got),
                        day_partition(now, want, sizeof want));
    assert_string_equal(partition_of(fx->conn, "daily", 3, got, sizeof got),
                        day_partition(now + 14 * 86400, want, sizeof want));
    assert_string_equal(partition_of(fx->conn, "daily", 4, got, sizeof got), "telemetry_default");
    assert_int_equal(stored_readings(fx->store, "daily"), 4);
    int64_t readings;
    assert_int_equal(store_reading_count(fx->store, &readings), STORE_OK);
    assert_int_equal(readings, 4);
}

/* Retention drops the day partitions that are over, counting their readings, deletes the old
 * readings of the default partition up to the batch size, and keeps the rest. */
static void prune_drops_old_days(void **state)
{
    struct fixture *fx = *state;
    int64_t now = time(NULL), today = day_start(now);
    char yesterday[64], current[64];
    day_partition(today - 86400, yesterday, sizeof yesterday);
    day_partition(today, current, sizeof current);
    add_open(fx->store, "aging");
    int64_t seqn = 0;
    for (int i = 0; i < 3; i++) /* a day with no partition: the default one */
        assert_int_equal(
            store_reading_add(fx->store, "aging", ++seqn, TEST_T0 - 40 * 86400, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_reading_add(fx->store, "aging", ++seqn, today - 3600, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                         STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "aging", ++seqn, today + 60, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_true(partition_exists(fx->conn, yesterday));

    int deleted = -1;
    /* Yesterday's day is not over before the last of its seconds. */
    assert_int_equal(store_reading_prune(fx->store, today - 1, 2, &deleted), STORE_OK);
    assert_int_equal(deleted, 2); /* of the default partition, 2 at most */
    assert_true(partition_exists(fx->conn, yesterday));
    assert_int_equal(store_reading_prune(fx->store, today, 2, &deleted), STORE_OK);
    assert_int_equal(deleted, 4 + 1);
    assert_false(partition_exists(fx->conn, yesterday)); /* and not made again by the prune */
    assert_true(partition_exists(fx->conn, current));
    assert_int_equal(store_reading_prune(fx->store, today, 2, &deleted), STORE_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(stored_readings(fx->store, "aging"), 1);
    /* The SEQN check holds after its readings went. */
    assert_int_equal(store_reading_add(fx->store, "aging", seqn, now, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_STALE);
    assert_int_equal(store_reading_add(fx->store, "aging", seqn + 1, now, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
}

/* A day whose readings the default partition already holds gets no partition of its own: making
 * it is skipped without error, the readings stay where they are, and the next days are made. */
static void day_already_in_default_is_skipped(void **state)
{
    struct fixture *fx = *state;
    int64_t later = day_start(time(NULL)) + 20 * 86400;
    add_open(fx->store, "early");
    assert_int_equal(store_reading_add(fx->store, "early", 1, later + 5, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    char first[24], name[64], next[64];
    snprintf(first, sizeof first, "%lld", (long long)later);
    const char *params[] = {first};
    assert_true(query_int_with(fx->conn, "SELECT provd_make_partitions($1::bigint, 30)", 1, params) > 0);
    assert_false(partition_exists(fx->conn, day_partition(later, name, sizeof name)));
    assert_true(partition_exists(fx->conn, day_partition(later + 86400, next, sizeof next)));
    assert_string_equal(partition_of(fx->conn, "early", 1, name, sizeof name), "telemetry_default");
    assert_int_equal(stored_readings(fx->store, "early"), 1);
}

/* A device's readings go with it, from every partition. */
static void delete_takes_readings_from_every_partition(void **state)
{
    struct fixture *fx = *state;
    int64_t now = time(NULL);
    add_open(fx->store, "gone");
    assert_int_equal(store_reading_add(fx->store, "gone", 1, now, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(store_reading_add(fx->store, "gone", 2, TEST_T0 - 400 * 86400, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                     STORE_OK);
    assert_int_equal(store_device_delete(fx->store, "gone"), STORE_OK);
    assert_int_equal(query_int(fx->conn, "SELECT count(*) FROM telemetry"), 0);
}

static bool first_text(const struct reading *r, void *user_data)
{
    copy_text(user_data, 64, r->reading);
    return false;
}

static bool take_three(const struct reading *r, void *user_data)
{
    (void)r;
    return ++*(int *)user_data < 3;
}

/* An export stopped early (its rows come one at a time) cancels the rest; the connection goes on. */
static void stopped_walk_leaves_the_connection_usable(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "long");
    assert_int_equal(store_device_bulk_add(fx->store, "L", 0, 1, NULL, TEST_T0), STORE_OK);
    assert_int_equal(store_reading_bulk_add(fx->store, "L", 0, 1, 20000, TEST_T0, 1, reading_text, NULL),
                     STORE_OK);
    struct reading_filter all = {.since = INT64_MIN, .until = INT64_MAX, .after = -1, .limit = -1};
    int n = 0;
    assert_int_equal(store_reading_list(fx->store, "L000000", &all, take_three, &n), STORE_OK);
    assert_int_equal(n, 3);
    char text[64]; /* COPY's escapes undone: the text as the callback wrote it */
    assert_int_equal(store_reading_list(fx->store, "L000000", &all, first_text, text), STORE_OK);
    assert_string_equal(text, "{\"SEQN\":20000,\"s\":\"tab\\there\"}");
    assert_int_equal(store_reading_add(fx->store, "L000000", 20001, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    assert_int_equal(stored_readings(fx->store, "L000000"), 20001);
}

/* ---- connections ---- */

/* Has the server end the store's connection. */
static void cut_store_connection(struct fixture *fx)
{
    int64_t killed = query_int(fx->conn, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE datname = current_database() AND application_name = 'provd'");
    assert_int_equal(killed, 1);
}

/* The store's connection cut by the server: the next operation says the database is unavailable
 * or (having reconnected) succeeds, and the one after works, its statements prepared again. */
static void reconnects_after_a_lost_connection(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "steady");
    assert_int_equal(store_reading_add(fx->store, "steady", 1, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2), STORE_OK);
    for (int round = 0; round < 2; round++) {
        cut_store_connection(fx);
        enum store_status st = store_device_get(fx->store, "steady", NULL, NULL);
        if (st != STORE_UNAVAILABLE && st != STORE_OK)
            fail_msg("after the cut: %d %s", st, store_errmsg(fx->store));
        if (st == STORE_UNAVAILABLE)
            assert_true(strlen(store_errmsg(fx->store)) > 0);
        assert_int_equal(store_device_get(fx->store, "steady", NULL, NULL), STORE_OK);
        assert_int_equal(store_reading_add(fx->store, "steady", 2 + round, TEST_T0, TS_NONE, "{}", 2, 0, DEVICE_TRUST_V2),
                         STORE_OK);
        assert_int_equal(store_prepare_all(fx->store), STORE_OK);
    }
    assert_int_equal(stored_readings(fx->store, "steady"), 3);
}

/* A connection cut inside an admin's change is not replaced until the change ends (what the change
 * wrote next would be committed outside it): every operation of the change after the cut fails, its
 * commit fails, the device keeps its name, and the operation after the change reconnects. */
/* A connection the server closed while it sat idle (PostgreSQL restarted meanwhile) is replaced
 * before the next statement, which succeeds: no request pays for the restart afterwards. */
static void an_idle_connection_the_server_closed_is_replaced_first(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "idle");
    cut_store_connection(fx);
    for (int i = 0; i < 500 && query_int(fx->conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                                   "current_database() AND application_name = 'provd'") > 0;
         i++)
        usleep(10000); /* until the backend is gone */
    usleep(50000);     /* and its end has reached this process */
    assert_int_equal(store_device_get(fx->store, "idle", NULL, NULL), STORE_OK);
}

static void a_connection_lost_inside_a_change_fails_it_whole(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "inside");
    assert_int_equal(store_write_begin(fx->store), STORE_OK);
    struct device_update u = {.name = "first", .cfgsn = -1, .if_match = IF_MATCH_NONE};
    assert_int_equal(store_device_update(fx->store, "inside", &u, TEST_T0, NULL, NULL), STORE_OK);
    cut_store_connection(fx);
    u.name = "second"; /* finds the connection lost */
    assert_int_equal(store_device_update(fx->store, "inside", &u, TEST_T0, NULL, NULL), STORE_UNAVAILABLE);
    u.name = "third"; /* would reconnect */
    assert_int_equal(store_device_update(fx->store, "inside", &u, TEST_T0, NULL, NULL), STORE_UNAVAILABLE);
    assert_int_not_equal(store_write_end(fx->store, true), STORE_OK);
    const char *id[] = {"inside"};
    char name[32];
    assert_string_equal(query_text_with(fx->conn, "SELECT name FROM devices WHERE deviceid = $1", 1, id, name,
                                        sizeof name),
                        "");
    assert_int_equal(store_device_get(fx->store, "inside", NULL, NULL), STORE_OK);
}

/* What store_open() says when it cannot open: one line, and never the password. */
static void open_failures_are_clear_and_keep_the_password(void **state)
{
    (void)state;
    static const struct {
        const char *uri, *expected;
    } cases[] = {
        {"postgresql://provd:S3cretPw@127.0.0.1:1/provd", "cannot connect"},
        {"postgresql://provd:S3cretPw@[::1/provd", "malformed"},
        {"postgresql://provd:S3cretPw@127.0.0.1/provd?S3cretPw=1", "malformed"},
        {"postgresql://provd:S3cretPw@127.0.0.1:S3cretPw/provd", "cannot connect"},
        {"postgres://provd:S3cretPw@%zz/provd", "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        struct store *s = store_open(cases[i].uri, err, sizeof err);
        assert_null(s);
        if (!strstr(err, cases[i].expected) || strstr(err, "S3cretPw") || strchr(err, '\n'))
            fail_msg("%s: \"%s\"", cases[i].uri, err);
    }
    /* A database that does not exist: its name in the message. */
    char uri[400], err[512] = "";
    snprintf(uri, sizeof uri, "%sprovd_no_such_database", test_pg_base());
    assert_null(store_open(uri, err, sizeof err));
    if (!strstr(err, "provd_no_such_database"))
        fail_msg("\"%s\"", err);
}

static void open_refuses_newer_schema(void **state)
{
    struct fixture *fx = *state;
    char newer[16];
    snprintf(newer, sizeof newer, "%d", provd_pg_migration_count + 1);
    const char *params[] = {newer};
    assert_int_equal(query_int_with(fx->conn,
                                    "WITH u AS (UPDATE provd_schema SET version = $1::int RETURNING 1) "
                                    "SELECT count(*) FROM u",
                                    1, params),
                     1);
    char err[512] = "", expected[64];
    assert_null(store_open(fx->db.path, err, sizeof err));
    snprintf(expected, sizeof expected, "schema version %d", provd_pg_migration_count + 1);
    if (!strstr(err, expected) || !strstr(err, "upgrade provd"))
        fail_msg("unclear refusal: \"%s\"", err);
    assert_int_equal(query_int(fx->conn, "SELECT version FROM provd_schema"), provd_pg_migration_count + 1);
}

/* ---- answers equal to SQLite's ---- */

#define MAX_BUCKETS 64

struct buckets {
    int n;
    struct {
        int64_t start, count;
        char field[64];
        double min, avg, max;
    } b[MAX_BUCKETS];
};

static void collect_bucket(const struct bucket_stat *b, void *user_data)
{
    struct buckets *out = user_data;
    assert_true(out->n < MAX_BUCKETS);
    out->b[out->n].start = b->start;
    out->b[out->n].count = b->count;
    copy_text(out->b[out->n].field, sizeof out->b[0].field, b->field);
    out->b[out->n].min = b->min;
    out->b[out->n].avg = b->avg;
    out->b[out->n].max = b->max;
    out->n++;
}

static const char *const bucket_readings[] = {
    "{\"SEQN\":1,\"ts\":5,\"v\":1,\"a\":{\"b\":[1,2.5,{\"c\":3}],\"s\":\"x\"},\"list\":[10,20],\"t\":true}",
    "{\"SEQN\":2,\"v\":-4.25,\"a\":{\"b\":[7]},\"list\":[30],\"n\":null,\"k_1\":1e3,\"Z\":0}",
    "{\"SEQN\":3,\"v\":1e300,\"d\":{\"w\":1,\"w\":2},\"list\":[[1,2],[3]],\"a\":{\"B\":-0.5}}",
    "{\"SEQN\":4,\"v\":2,\"e\":[{\"x\":1},{\"x\":2,\"y\":[0.25]}],\"big\":9007199254740993}",
    "{\"SEQN\":5,\"v\":3,\"list\":[],\"a\":{},\"key with space\":1,\"q\\\"uote\":2}",
};

static void add_bucket_readings(struct store *s)
{
    add_open(s, "meter");
    for (size_t i = 0; i < sizeof bucket_readings / sizeof bucket_readings[0]; i++) {
        const char *r = bucket_readings[i];
        assert_int_equal(
            store_reading_add(s, "meter", (int64_t)i + 1, TEST_T0 + 200 * (int64_t)i, TS_NONE, r, strlen(r), 0, DEVICE_TRUST_V2),
            STORE_OK);
    }
}

/* Every numeric leaf, nested objects, arrays, duplicate names and odd keys included, gives the same
 * buckets, fields, order and values on both backends. */
static void buckets_equal_sqlite(void **state)
{
    struct fixture *fx = *state;
    struct tempdb lite;
    tempdb_make_sqlite(&lite);
    struct store *sqlite = open_store(lite.path);
    add_bucket_readings(sqlite);
    add_bucket_readings(fx->store);
    static const int64_t widths[] = {1, 300, 600, 3600};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        static struct buckets want, got;
        want.n = got.n = 0;
        assert_int_equal(
            store_reading_buckets(sqlite, "meter", TEST_T0, TEST_T0 + 1000, widths[w], collect_bucket, &want),
            STORE_OK);
        if (store_reading_buckets(fx->store, "meter", TEST_T0, TEST_T0 + 1000, widths[w], collect_bucket,
                                  &got) != STORE_OK)
            fail_msg("%s", store_errmsg(fx->store));
        assert_true(want.n > 10);
        assert_int_equal(got.n, want.n);
        for (int i = 0; i < want.n; i++) {
            if (got.b[i].start != want.b[i].start || strcmp(got.b[i].field, want.b[i].field) != 0 ||
                got.b[i].count != want.b[i].count || got.b[i].min != want.b[i].min ||
                got.b[i].avg != want.b[i].avg || got.b[i].max != want.b[i].max)
                fail_msg("width %lld, row %d: PostgreSQL %lld %s %g %g %g %lld, SQLite %lld %s %g %g %g %lld",
                         (long long)widths[w], i, (long long)got.b[i].start, got.b[i].field, got.b[i].min,
                         got.b[i].avg, got.b[i].max, (long long)got.b[i].count, (long long)want.b[i].start,
                         want.b[i].field, want.b[i].min, want.b[i].avg, want.b[i].max,
                         (long long)want.b[i].count);
        }
    }
    store_free(sqlite);
    tempdb_remove(&lite);
}

/* ---- heartbeat times: a worker keeps them back and writes many at once ---- */

static int64_t lastseen_of(PGconn *conn, const char *id)
{
    const char *const params[] = {id};
    return query_int_with(conn, "SELECT coalesce(lastseen, 0) FROM devices WHERE deviceid = $1", 1, params);
}

static void heartbeat(struct store *s, const char *id, int64_t now)
{
    struct poll_facts facts;
    assert_int_equal(store_device_heartbeat(s, id, STORE_CALLER_UNSIGNED, now, &facts), STORE_OK);
}

/* A heartbeat is a read: its time is written with the others by the caller's flush once due (or
 * when the store is freed), each device's latest, never moving lastseen back. */
static void heartbeat_times_are_written_together_once_due(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "hb1");
    add_open(fx->store, "hb2");
    heartbeat(fx->store, "hb1", TEST_T0 + 10);
    heartbeat(fx->store, "hb2", TEST_T0 + 11);
    heartbeat(fx->store, "hb1", TEST_T0 + 12);
    int due = store_flush(fx->store, false);
    assert_true(due > 0 && due <= 500);
    assert_int_equal(lastseen_of(fx->conn, "hb1"), TEST_T0); /* the registration's, still */
    struct timespec pause = {0, (long)(due + 20) * 1000000L};
    nanosleep(&pause, NULL);
    assert_int_equal(store_flush_due_in(fx->store), 0);
    heartbeat(fx->store, "hb2", TEST_T0 + 11); /* due, yet a heartbeat writes nothing itself */
    assert_int_equal(lastseen_of(fx->conn, "hb1"), TEST_T0);
    assert_int_equal(store_flush(fx->store, false), -1);
    assert_int_equal(lastseen_of(fx->conn, "hb1"), TEST_T0 + 12);
    assert_int_equal(lastseen_of(fx->conn, "hb2"), TEST_T0 + 11);

    heartbeat(fx->store, "hb1", TEST_T0 + 5); /* late: lastseen stays */
    assert_int_equal(store_flush(fx->store, true), -1);
    assert_int_equal(lastseen_of(fx->conn, "hb1"), TEST_T0 + 12);

    heartbeat(fx->store, "hb2", TEST_T0 + 20);
    store_free(fx->store);
    fx->store = open_store(fx->db.path);
    assert_int_equal(lastseen_of(fx->conn, "hb2"), TEST_T0 + 20);
}

/* Half a batch kept back (256 times, half of store_pg_internal.h's SEEN_MAX) is due at once, not
 * after 500 ms: the worker writes it after its answer, before the batch can fill. */
static void heartbeat_times_are_due_at_half_a_batch(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "hb1");
    assert_int_equal(store_flush_due_in(fx->store), -1);
    for (int i = 1; i < 256; i++)
        heartbeat(fx->store, "hb1", TEST_T0 + i);
    assert_true(store_flush_due_in(fx->store) > 0);
    heartbeat(fx->store, "hb1", TEST_T0 + 256);
    assert_int_equal(store_flush_due_in(fx->store), 0);
    assert_int_equal(lastseen_of(fx->conn, "hb1"), TEST_T0);
    assert_int_equal(store_flush(fx->store, false), -1);
    assert_int_equal(lastseen_of(fx->conn, "hb1"), TEST_T0 + 256);
    assert_int_equal(store_flush_due_in(fx->store), -1);
}

#define SEEN_DEVICES 100
#define SEEN_ROUNDS  10

/* Racer i: heartbeats of every device, in one order or the other, then a write of them all. */
static enum store_status heartbeats_then_write(struct store *s, int i, const void *arg)
{
    (void)arg;
    for (int round = 0; round < SEEN_ROUNDS; round++) {
        for (int k = 0; k < SEEN_DEVICES; k++) {
            char id[16];
            snprintf(id, sizeof id, "seen%03d", i % 2 ? SEEN_DEVICES - 1 - k : k);
            struct poll_facts facts;
            enum store_status st =
                store_device_heartbeat(s, id, STORE_CALLER_UNSIGNED, TEST_T0 + 100 + round, &facts);
            if (st != STORE_OK)
                return st;
        }
        if (store_flush(s, true) != -1)
            return STORE_ERROR;
    }
    return STORE_OK;
}

/* Workers writing overlapping sets of heartbeat times at once, in opposite orders, all succeed
 * (no deadlock) and leave each device's latest time. */
static void overlapping_heartbeat_writes_all_succeed(void **state)
{
    struct fixture *fx = *state;
    for (int k = 0; k < SEEN_DEVICES; k++) {
        char id[16];
        snprintf(id, sizeof id, "seen%03d", k);
        add_open(fx->store, id);
    }
    struct race r = race(fx->db.path, 4, heartbeats_then_write, NULL);
    assert_int_equal(r.count[STORE_OK], 4);
    char latest[24];
    snprintf(latest, sizeof latest, "%lld", (long long)(TEST_T0 + 100 + SEEN_ROUNDS - 1));
    const char *const params[] = {latest};
    assert_int_equal(query_int_with(fx->conn, "SELECT count(*) FROM devices WHERE lastseen = $1::bigint", 1, params),
                     SEEN_DEVICES);
}

int main(void)
{
    if (!test_pg_base()) {
        fprintf(stderr, "test_store_pg: PROVD_TEST_PG is not set: it needs a PostgreSQL cluster's base URI, "
                        "e.g. PROVD_TEST_PG=$(scripts/pg-cluster.sh start build/pg 55440)\n");
        return 1;
    }
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(same_reading_at_once_stored_once),
        T(overlapping_batches_at_once_never_deadlock),
        T(a_refused_reading_fails_alone),
        T(same_if_match_at_once_one_wins),
        T(concurrent_creates_become_updates),
        T(first_registrations_at_once_make_one_device),
        T(concurrent_opens_migrate_once),
        T(readings_land_in_their_day),
        T(prune_drops_old_days),
        T(day_already_in_default_is_skipped),
        T(delete_takes_readings_from_every_partition),
        T(stopped_walk_leaves_the_connection_usable),
        T(reconnects_after_a_lost_connection),
        T(an_idle_connection_the_server_closed_is_replaced_first),
        T(a_connection_lost_inside_a_change_fails_it_whole),
        T(open_failures_are_clear_and_keep_the_password),
        T(open_refuses_newer_schema),
        T(buckets_equal_sqlite),
        T(heartbeat_times_are_written_together_once_due),
        T(heartbeat_times_are_due_at_half_a_batch),
        T(overlapping_heartbeat_writes_all_succeed),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
