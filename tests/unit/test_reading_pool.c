/* The pool's committer of readings with real sockets, threads and a SQLite file: every worker's
 * readings stored once with the right answers, a malformed message refused, takeover when the
 * committer's worker stops, and a batch in which one reading is refused. */
#include <dirent.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "testapp.h"

#include "e2ee.h"
#include "reading_pool.h"

#define KEY      "000102030405060708090a0b0c0d0e0f"
#define WORKERS  4
#define READINGS 60 /* per worker */

/* A worker's part: its heartbeat-time thread, which lends the committer its connection, and
 * its pool (its own lock file descriptor and connection to the committer). */
struct worker_pool {
    struct lastseen *seen;
    struct reading_pool *pool;
};

static struct worker_pool open_pool(struct testapp_fixture *f)
{
    char err[256];
    struct worker_pool w = {lastseen_start(f->db.path, err, sizeof err), NULL};
    assert_non_null(w.seen);
    w.pool = reading_pool_open(&f->app.config, w.seen, NULL);
    assert_non_null(w.pool);
    return w;
}

static void close_pool(struct worker_pool *w)
{
    reading_pool_free(w->pool);
    lastseen_stop(w->seen);
}

static void add_device(struct testapp_fixture *f, const char *id, const char *key)
{
    assert_int_equal(
        store_device_register(f->app.store, id, "10.0.0.1", "lab", REGISTRATION_OPEN, TEST_T0, NULL, NULL),
        STORE_CREATED);
    if (key)
        assert_int_equal(store_device_set_key(f->app.store, id, key), STORE_OK);
}

/* Hands one reading {"SEQN":seqn} of id to the pool; r says what became of it. */
static bool submit(struct reading_pool *pool, const char *id, int64_t seqn, struct ingest_result *r)
{
    char json[64], *envelope = NULL;
    int len = snprintf(json, sizeof json, "{\"SEQN\":%lld,\"v\":1}", (long long)seqn);
    assert_int_equal(e2ee_seal_v2(id, KEY, NULL, json, (size_t)len, &envelope), E2EE_OK);
    bool taken = reading_pool_submit(pool, id, envelope, strlen(envelope), TEST_T0, r);
    free(envelope);
    return taken;
}

static bool count_reading(const struct reading *r, void *count)
{
    (void)r;
    ++*(int64_t *)count;
    return true;
}

static int64_t reading_count(struct testapp_fixture *f, const char *id)
{
    struct reading_filter all = {.since = 0, .until = INT64_MAX, .after = -1, .limit = -1};
    int64_t n = 0;
    assert_int_equal(store_reading_list(f->app.store, id, &all, count_reading, &n), STORE_OK);
    return n;
}

struct worker {
    struct testapp_fixture *f;
    char id[16];
    int stored;
};

/* A worker of its own (its own pool, so its own lock file and connection). */
static void *worker_run(void *data)
{
    struct worker *w = data;
    struct worker_pool own = open_pool(w->f);
    for (int64_t seqn = 1; seqn <= READINGS; seqn++) {
        struct ingest_result r;
        if (submit(own.pool, w->id, seqn, &r) && r.outcome == INGEST_STORED && r.seqn == seqn)
            w->stored++;
    }
    close_pool(&own);
    return NULL;
}

/* Whether a thread of this process has that name (/proc/self/task/TID/comm). */
static bool thread_named(const char *name)
{
    DIR *tasks = opendir("/proc/self/task");
    assert_non_null(tasks);
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(tasks));) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%.20s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            found = fgets(comm, sizeof comm, f) && strncmp(comm, name, strlen(name)) == 0 &&
                    comm[strlen(name)] == '\n';
            fclose(f);
        }
    }
    closedir(tasks);
    return found;
}

static void every_workers_readings_stored_once(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker_pool leader = open_pool(f);
    add_device(f, "first", KEY);
    struct ingest_result r;
    assert_true(submit(leader.pool, "first", 1, &r));
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_true(reading_pool_leads(leader.pool));
    assert_true(thread_named("provd-readings"));
    assert_true(thread_named("provd-seen"));

    struct worker workers[WORKERS];
    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (struct worker){.f = f};
        snprintf(workers[i].id, sizeof workers[i].id, "w%d", i);
        add_device(f, workers[i].id, KEY);
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, worker_run, &workers[i]), 0);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(workers[i].stored, READINGS);
        assert_int_equal(reading_count(f, workers[i].id), READINGS);
    }
    close_pool(&leader);
}

static void refusals_come_back_through_the_pool(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker_pool w = open_pool(f);
    struct reading_pool *pool = w.pool;
    add_device(f, "keyed", KEY);
    struct ingest_result r;
    assert_true(submit(pool, "keyed", 5, &r));
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_true(submit(pool, "keyed", 5, &r));
    assert_int_equal(r.outcome, INGEST_STALE);
    assert_int_equal(r.seqn, 5);
    assert_true(submit(pool, "nobody", 1, &r));
    assert_int_equal(r.outcome, INGEST_UNKNOWN);
    assert_true(reading_pool_submit(pool, "keyed", "not an envelope", 15, TEST_T0, &r));
    assert_int_equal(r.outcome, INGEST_UNREADABLE);
    assert_int_equal(store_device_register(f->app.store, "waiting", "10.0.0.2", "lab", REGISTRATION_APPROVE,
                                           TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_true(submit(pool, "waiting", 1, &r));
    assert_int_equal(r.outcome, INGEST_NOT_ACCEPTED);
    assert_string_equal(r.state, "pending");
    assert_int_equal(reading_count(f, "keyed"), 1);
    close_pool(&w);
}

/* Bytes on the socket that are no worker's reading: refused, and the committer goes on. */
static void a_malformed_message_is_refused(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker_pool w = open_pool(f);
    add_device(f, "keyed", KEY);
    struct ingest_result r;
    assert_true(submit(w.pool, "keyed", 1, &r)); /* starts the committer */

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(snprintf(addr.sun_path, sizeof addr.sun_path, "%.90s-readings.sock", f->db.path) <
                (int)sizeof addr.sun_path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    char junk[200];
    memset(junk, 'x', sizeof junk); /* a device id with no end */
    assert_int_equal(send(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    assert_int_equal(recv(fd, &r, sizeof r, 0), (ssize_t)sizeof r);
    assert_int_equal(r.outcome, INGEST_UNREADABLE);
    assert_int_equal(send(fd, "x", 1, 0), 1); /* shorter than a head */
    assert_int_equal(recv(fd, &r, sizeof r, 0), (ssize_t)sizeof r);
    assert_int_equal(r.outcome, INGEST_UNREADABLE);
    close(fd);

    assert_true(submit(w.pool, "keyed", 2, &r));
    assert_int_equal(r.outcome, INGEST_STORED);
    close_pool(&w);
}

static void the_next_worker_takes_over(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker_pool first = open_pool(f), second = open_pool(f);
    add_device(f, "keyed", KEY);
    struct ingest_result r;
    assert_true(submit(first.pool, "keyed", 1, &r));
    assert_true(submit(second.pool, "keyed", 2, &r));
    assert_true(reading_pool_leads(first.pool));
    assert_false(reading_pool_leads(second.pool));

    close_pool(&first); /* its worker stops: its committer with it */
    assert_true(submit(second.pool, "keyed", 3, &r));
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_true(reading_pool_leads(second.pool));
    assert_int_equal(reading_count(f, "keyed"), 3);
    close_pool(&second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_workers_readings_stored_once, testapp_setup_open,
                                        testapp_teardown),
        cmocka_unit_test_setup_teardown(refusals_come_back_through_the_pool, testapp_setup_open,
                                        testapp_teardown),
        cmocka_unit_test_setup_teardown(a_malformed_message_is_refused, testapp_setup_open, testapp_teardown),
        cmocka_unit_test_setup_teardown(the_next_worker_takes_over, testapp_setup_open, testapp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
