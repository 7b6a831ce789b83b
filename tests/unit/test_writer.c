/* The stack's one SQLite writer with real sockets, threads, processes and a SQLite file: readings
 * group-committed and answered, refusals answered, malformed messages dropped or answered
 * unreadable, heartbeat times reaching the table, one writer elected among several workers, a
 * killed writer replaced, and checkpoints that keep the WAL bounded. A "worker" here is what a
 * provd process has: a connection of its own and a struct writer. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "testapp.h"

#include "e2ee.h"
#include "writer.h"
#include "store_sqlite.h"

#define KEY      "000102030405060708090a0b0c0d0e0f"
#define WORKERS  4
#define READINGS 60 /* per worker */

struct worker {
    struct config config; /* the writer keeps a pointer to it */
    struct store *store;
    struct writer *writer;
};

static struct worker *open_worker(const char *path)
{
    struct worker *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->config = (struct config){.db_path = path,
                                .registration = REGISTRATION_OPEN,
                                .poll_interval = 60,
                                .server_key = &test_server_key};
    w->store = open_store(path);
    w->writer = writer_open(&w->config, w->config.db_path, NULL);
    assert_non_null(w->writer);
    store_set_seen_sink(w->store, writer_seen, w->writer);
    store_leave_checkpoints(w->store);
    return w;
}

static void close_worker(struct worker *w)
{
    writer_free(w->writer, w->store);
    store_free(w->store);
    free(w);
}

/* The writer's run files, which testlib.h does not know yet. */
static void remove_run_files(const char *path)
{
    char file[400];
    snprintf(file, sizeof file, "%s-writer.lock", path);
    unlink(file);
    snprintf(file, sizeof file, "%s-writer.sock", path);
    unlink(file);
}

static int teardown(void **state)
{
    struct testapp_fixture *f = *state;
    remove_run_files(f->db.path);
    return testapp_teardown(state);
}

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, ms % 1000 * 1000000L};
    nanosleep(&pause, NULL);
}

static void add_device(struct store *s, const char *id)
{
    assert_int_equal(store_device_register(s, id, "10.0.0.1", "lab", NULL, REGISTRATION_UNCAPPED(REGISTRATION_OPEN),
                                           TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(store_device_set_key(s, id, KEY), STORE_OK);
}

/* Hands one reading {"SEQN":seqn} of id to the writer; r says what became of it when answered. */
static enum writer_submit submit(struct worker *w, int thread, const char *id, int64_t seqn,
                                 struct ingest_result *r)
{
    char json[64], *envelope = NULL;
    int len = snprintf(json, sizeof json, "{\"SEQN\":%lld,\"v\":1}", (long long)seqn);
    assert_int_equal(e2ee_seal_v2(id, KEY, NULL, json, (size_t)len, &envelope), E2EE_OK);
    enum writer_submit sent = writer_submit(w->writer, thread, id, envelope, strlen(envelope), TEST_T0, false, r);
    free(envelope);
    return sent;
}

static bool count_reading(const struct reading *r, void *count)
{
    (void)r;
    ++*(int64_t *)count;
    return true;
}

static int64_t reading_count(struct store *s, const char *id)
{
    struct reading_filter all = {.since = 0, .until = INT64_MAX, .after = -1, .limit = -1};
    int64_t n = 0;
    assert_int_equal(store_reading_list(s, id, &all, count_reading, &n), STORE_OK);
    return n;
}

static void capture_lastseen(const struct device *d, void *lastseen)
{
    *(int64_t *)lastseen = d->lastseen;
}

static int64_t lastseen_of(struct store *s, const char *id)
{
    int64_t at = -1;
    assert_int_equal(store_device_get(s, id, capture_lastseen, &at), STORE_OK);
    return at;
}

/* Reads id's lastseen until it is want or about 5 s pass; returns the last value read. */
static int64_t wait_lastseen(struct store *s, const char *id, int64_t want)
{
    int64_t got = -1;
    for (int i = 0; i < 500 && (got = lastseen_of(s, id)) != want; i++)
        sleep_ms(10);
    return got;
}

/* A heartbeat of id at `at` through w's store, and its time handed over once due (for at most
 * about 2 s: a time nobody takes stays queued). */
static void heartbeat(struct worker *w, const char *id, int64_t at)
{
    assert_int_equal(store_device_poll(w->store, id, STORE_CALLER_PROVED, -1, at, NULL, NULL), STORE_OK);
    for (int wait, i = 0; i < 200 && (wait = writer_hand_over(w->writer, NULL)) >= 0; i++)
        sleep_ms(wait > 0 ? wait : 5);
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

struct submitter {
    const char *path;
    char id[16];
    int stored;
    bool led;
    pthread_barrier_t *start;
};

/* A worker of its own (its own lock file descriptor, connection and writer handle) whose two
 * request threads take turns submitting readings. A reading the writer does not answer (while
 * the writer elected is not listening yet) the worker takes itself, as telemetry.c does. */
static void *submit_readings(void *data)
{
    struct submitter *s = data;
    struct worker *w = open_worker(s->path);
    pthread_barrier_wait(s->start);
    for (int64_t seqn = 1; seqn <= READINGS; seqn++) {
        struct ingest_result r = {0};
        if (submit(w, (int)(seqn % 2), s->id, seqn, &r) == WRITER_NOT_TAKEN) {
            char json[64], *envelope = NULL;
            int len = snprintf(json, sizeof json, "{\"SEQN\":%lld}", (long long)seqn);
            e2ee_seal_v2(s->id, KEY, NULL, json, (size_t)len, &envelope);
            ingest_reading(w->store, &w->config, s->id, envelope, strlen(envelope), TEST_T0, false, &r);
            free(envelope);
        }
        s->stored += r.outcome == INGEST_STORED && r.seqn == seqn;
    }
    s->led = writer_leads(w->writer);
    pthread_barrier_wait(s->start); /* every worker has asked whether it leads before one stops */
    close_worker(w);
    return NULL;
}

/* Several workers at once: each reading stored once and answered STORED; one writer among them. */
static void workers_readings_committed_by_one_writer(void **state)
{
    struct testapp_fixture *f = *state;
    struct submitter subs[WORKERS];
    pthread_t threads[WORKERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, WORKERS);
    for (int i = 0; i < WORKERS; i++) {
        subs[i] = (struct submitter){.path = f->db.path, .start = &start};
        snprintf(subs[i].id, sizeof subs[i].id, "w%d", i);
        add_device(f->app.store, subs[i].id);
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, submit_readings, &subs[i]), 0);
    int leaders = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
        leaders += subs[i].led;
        assert_int_equal(subs[i].stored, READINGS);
        assert_int_equal(reading_count(f->app.store, subs[i].id), READINGS);
    }
    assert_int_equal(leaders, 1);
    pthread_barrier_destroy(&start);
}

static void refusals_come_back_from_the_writer(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker *w = open_worker(f->db.path);
    add_device(w->store, "keyed");
    struct ingest_result r;
    assert_int_equal(submit(w, 0, "keyed", 5, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_true(writer_leads(w->writer));
    assert_true(thread_named("provd-writer"));
    assert_int_equal(submit(w, 1, "keyed", 5, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_STALE);
    assert_int_equal(r.seqn, 5);
    assert_int_equal(submit(w, 0, "nobody", 1, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_UNKNOWN);
    assert_int_equal(writer_submit(w->writer, 0, "keyed", "not an envelope", 15, TEST_T0, false, &r),
                     WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_UNREADABLE);
    assert_int_equal(store_device_register(w->store, "waiting", "10.0.0.2", "lab", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_APPROVE), TEST_T0, NULL, NULL),
                     STORE_CREATED);
    assert_int_equal(submit(w, 0, "waiting", 1, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_NOT_ACCEPTED);
    assert_string_equal(r.state, "pending");
    assert_int_equal(reading_count(w->store, "keyed"), 1);
    close_worker(w);
}

/* ---- the wire, written by hand from writer.h's description ---- */

#define ID_LEN 65 /* DEVICE_ID_MAX + 1 */

static size_t put_head(unsigned char *m, int version, int kind, uint32_t length)
{
    m[0] = (unsigned char)version;
    m[1] = (unsigned char)kind;
    m[2] = m[3] = 0;
    memcpy(m + 4, &length, 4);
    return 8;
}

/* A reading message of body for id into m; returns its length. */
static size_t reading_message(unsigned char *m, size_t max, const char *id, const char *body)
{
    size_t len = 8 + 8 + 1 + ID_LEN + strlen(body);
    int64_t now = TEST_T0;
    assert_true(len <= max);
    memset(m, 0, len);
    put_head(m, WRITER_VERSION, 1, (uint32_t)len);
    memcpy(m + 8, &now, 8);
    memcpy(m + 17, id, strlen(id)); /* after the proof flag, 0 */
    memcpy(m + 17 + ID_LEN, body, strlen(body));
    return len;
}

/* The answer's outcome; -1 when none came within 2 s or it was not an answer. */
static int answer_outcome(int fd)
{
    unsigned char m[64];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1)
        return -1;
    ssize_t got = recv(fd, m, sizeof m, 0);
    uint32_t len;
    int32_t outcome;
    memcpy(&len, m + 4, 4);
    /* head 8, outcome 4, seqn 8, state 16, reason 4 */
    if (got != 40 || m[0] != WRITER_VERSION || m[1] != 3 || len != 40)
        return -1;
    memcpy(&outcome, m + 8, 4);
    return outcome;
}

static int connect_to_writer(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(snprintf(addr.sun_path, sizeof addr.sun_path, "%.90s-writer.sock", path) <
                (int)sizeof addr.sun_path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

/* Bytes that are no worker's message: a reading is answered unreadable, anything else dropped
 * unanswered, and the writer goes on. */
static void bad_messages_are_dropped_or_answered_unreadable(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker *w = open_worker(f->db.path);
    add_device(w->store, "keyed");
    struct ingest_result r;
    assert_int_equal(submit(w, 0, "keyed", 1, &r), WRITER_ANSWERED); /* elects the writer */
    assert_int_equal(r.outcome, INGEST_STORED);
    int fd = connect_to_writer(f->db.path);
    unsigned char m[512];
    char *envelope = NULL;
    assert_int_equal(e2ee_seal_v2("keyed", KEY, NULL, "{\"SEQN\":2}", 10, &envelope), E2EE_OK);
    size_t len = reading_message(m, sizeof m, "keyed", envelope);

    m[0] = WRITER_VERSION + 1; /* another version */
    assert_int_equal(send(fd, m, len, 0), (ssize_t)len);
    assert_int_equal(answer_outcome(fd), INGEST_UNREADABLE);
    put_head(m, WRITER_VERSION, 1, (uint32_t)len + 1); /* whole, but its head says longer */
    assert_int_equal(send(fd, m, len, 0), (ssize_t)len);
    assert_int_equal(answer_outcome(fd), INGEST_UNREADABLE);
    put_head(m, WRITER_VERSION, 1, (uint32_t)len);
    memset(m + 17, 'x', ID_LEN); /* a device id with no end */
    assert_int_equal(send(fd, m, len, 0), (ssize_t)len);
    assert_int_equal(answer_outcome(fd), INGEST_UNREADABLE);
    len = reading_message(m, sizeof m, "keyed", envelope);
    m[16] = 2; /* a proof flag neither 0 nor 1 */
    assert_int_equal(send(fd, m, len, 0), (ssize_t)len);
    assert_int_equal(answer_outcome(fd), INGEST_UNREADABLE);

    unsigned char junk[40] = {0};
    assert_int_equal(send(fd, "x", 1, 0), 1);  /* no head */
    put_head(junk, WRITER_VERSION, 2, 8 + 15); /* times, not whole */
    assert_int_equal(send(fd, junk, 8 + 15, 0), 8 + 15);
    put_head(junk, WRITER_VERSION, 3, 36); /* an answer, to the writer */
    assert_int_equal(send(fd, junk, 36, 0), 36);
    put_head(junk, WRITER_VERSION, 9, 8); /* no such kind */
    assert_int_equal(send(fd, junk, 8, 0), 8);
    put_head(junk, WRITER_VERSION, 2, 24); /* a whole time, of no device (row 0): skipped */
    assert_int_equal(send(fd, junk, 24, 0), 24);

    /* The next answer is the reading's: nothing else was answered. */
    len = reading_message(m, sizeof m, "keyed", envelope);
    assert_int_equal(send(fd, m, len, 0), (ssize_t)len);
    assert_int_equal(answer_outcome(fd), INGEST_STORED);
    free(envelope);
    close(fd);
    assert_int_equal(submit(w, 0, "keyed", 3, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_int_equal(reading_count(w->store, "keyed"), 3);
    close_worker(w);
}

/* A heartbeat's time goes through the worker's queue to the writer and into the table; and a
 * writer that stops writes what it was sent, not waiting for its next write. */
static void heartbeat_times_reach_the_table(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker *a = open_worker(f->db.path), *b = open_worker(f->db.path);
    add_device(a->store, "hb-1");
    add_device(a->store, "hb-2");
    heartbeat(a, "hb-1", TEST_T0 + 10); /* a becomes the writer */
    assert_true(writer_leads(a->writer));
    assert_int_equal(wait_lastseen(b->store, "hb-1", TEST_T0 + 10), TEST_T0 + 10);
    heartbeat(b, "hb-2", TEST_T0 + 20);
    heartbeat(b, "hb-2", TEST_T0 + 15); /* never back */
    assert_false(writer_leads(b->writer));
    assert_int_equal(wait_lastseen(b->store, "hb-2", TEST_T0 + 20), TEST_T0 + 20);

    heartbeat(b, "hb-1", TEST_T0 + 30);
    close_worker(a); /* at once: the time b sent is written as the writer stops */
    assert_int_equal(lastseen_of(b->store, "hb-1"), TEST_T0 + 30);
    heartbeat(b, "hb-1", TEST_T0 + 40); /* b takes over */
    assert_true(writer_leads(b->writer));
    assert_int_equal(wait_lastseen(b->store, "hb-1", TEST_T0 + 40), TEST_T0 + 40);
    close_worker(b);
}

/* With the writer's lock held by someone who does not listen, a worker writes its times itself
 * when it may use its connection, and keeps them while it may not. */
static void times_are_written_here_when_no_writer_takes_them(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker *a = open_worker(f->db.path);
    add_device(a->store, "alone");
    char lock[400];
    snprintf(lock, sizeof lock, "%s-writer.lock", f->db.path);
    int held = open(lock, O_RDWR);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(store_device_poll(a->store, "alone", STORE_CALLER_PROVED, -1, TEST_T0 + 7, NULL, NULL),
                     STORE_OK);
    sleep_ms(WRITER_GATHER_MS + 20);
    assert_true(writer_hand_over(a->writer, NULL) > 0); /* kept for later */
    assert_int_equal(lastseen_of(a->store, "alone"), TEST_T0);
    sleep_ms(WRITER_GATHER_MS + 20);
    assert_int_equal(writer_hand_over(a->writer, a->store), -1);
    assert_int_equal(lastseen_of(a->store, "alone"), TEST_T0 + 7);
    assert_false(writer_leads(a->writer));
    close(held);
    close_worker(a);
}

/* ---- the writer killed ---- */

/* The child: a worker that becomes the writer, says so on the pipe, and waits to be killed. */
static void run_writer_child(const char *path, int ready)
{
    struct worker *w = open_worker(path);
    add_device(w->store, "kill-1");
    add_device(w->store, "kill-2");
    struct ingest_result r;
    bool led = submit(w, 0, "kill-1", 1, &r) == WRITER_ANSWERED && r.outcome == INGEST_STORED && writer_leads(w->writer);
    if (write(ready, led ? "L" : "F", 1) != 1)
        _exit(2);
    for (;;)
        pause();
}

/* The test: the writer's worker is killed (SIGKILL), and later heartbeats and readings
 * are still recorded, by the worker that takes over. */
static void kill_the_writer_and_later_heartbeats_are_still_recorded(void **state)
{
    (void)state;
    struct tempdb db;
    tempdb_make(&db);
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t child = fork(); /* before this process opens the file: SQLite's locks do not survive fork */
    assert_true(child >= 0);
    if (child == 0) {
        close(pipe_fds[0]);
        run_writer_child(db.path, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    char said = 0;
    assert_int_equal(read(pipe_fds[0], &said, 1), 1);
    close(pipe_fds[0]);
    assert_int_equal(said, 'L');

    struct worker *w = open_worker(db.path);
    heartbeat(w, "kill-2", TEST_T0 + 5); /* to the child's writer */
    assert_int_equal(wait_lastseen(w->store, "kill-2", TEST_T0 + 5), TEST_T0 + 5);
    assert_false(writer_leads(w->writer));

    assert_int_equal(kill(child, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));

    heartbeat(w, "kill-2", TEST_T0 + 9);
    assert_int_equal(wait_lastseen(w->store, "kill-2", TEST_T0 + 9), TEST_T0 + 9);
    assert_true(writer_leads(w->writer));
    struct ingest_result r;
    assert_int_equal(submit(w, 1, "kill-1", 2, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_int_equal(reading_count(w->store, "kill-1"), 2);
    heartbeat(w, "kill-1", TEST_T0 + 11);
    assert_int_equal(wait_lastseen(w->store, "kill-1", TEST_T0 + 11), TEST_T0 + 11);
    close_worker(w);
    remove_run_files(db.path);
    tempdb_remove(&db);
}

/* A writer that takes one message and stops before answering it: its listening socket and the
 * election's lock are the test's. */
static void *take_one_and_stop(void *listener)
{
    unsigned char message[1024];
    int conn = accept(*(int *)listener, NULL, NULL);
    assert_true(conn >= 0);
    assert_true(recv(conn, message, sizeof message, MSG_TRUNC) > 0);
    close(conn);
    return NULL;
}

/* A reading the writer took and did not answer may have been stored: the worker says so (the
 * request is answered 503) and does not take it again, which could answer 409 to its first send.
 * Sent again, once a writer answers, it is stored. */
static void a_reading_the_writer_took_and_did_not_answer_is_in_doubt(void **state)
{
    struct testapp_fixture *f = *state;
    char lock[400];
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(lock, sizeof lock, "%s-writer.lock", f->db.path);
    assert_true(snprintf(addr.sun_path, sizeof addr.sun_path, "%s-writer.sock", f->db.path) <
                (int)sizeof addr.sun_path);
    int held = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX | LOCK_NB), 0);
    int listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(listener, 4), 0);
    pthread_t writer;
    assert_int_equal(pthread_create(&writer, NULL, take_one_and_stop, &listener), 0);

    struct worker *w = open_worker(f->db.path);
    add_device(w->store, "doubt");
    struct ingest_result r;
    assert_int_equal(submit(w, 0, "doubt", 1, &r), WRITER_IN_DOUBT);
    assert_int_equal(pthread_join(writer, NULL), 0);
    assert_int_equal(reading_count(w->store, "doubt"), 0);

    close(listener);
    close(held); /* the writer is gone: the worker becomes the next one */
    assert_int_equal(submit(w, 0, "doubt", 1, &r), WRITER_ANSWERED);
    assert_int_equal(r.outcome, INGEST_STORED);
    assert_true(writer_leads(w->writer));
    assert_int_equal(reading_count(w->store, "doubt"), 1);
    close_worker(w);
}

/* ---- checkpoints ---- */

#define FRAME_BYTES (24 + 4096) /* a WAL frame: a 24-byte header and a 4 KiB page */

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* Two workers on f's database: *writer elected by its first reading of device "meter", which *w
 * added. */
static void elect_with_meter(struct testapp_fixture *f, struct worker **writer, struct worker **w)
{
    *writer = open_worker(f->db.path);
    *w = open_worker(f->db.path);
    add_device((*w)->store, "meter");
    struct ingest_result r;
    assert_int_equal(submit(*writer, 0, "meter", 1, &r), WRITER_ANSWERED);
    assert_true(writer_leads((*writer)->writer));
}

/* A stream of 1 KB readings through the writer (three or four frames each, some 10000 in all):
 * its checkpoints, between its batches, keep the WAL far shorter than the fallback (4000 frames)
 * or no checkpoints at all would. */
static void the_writers_checkpoints_keep_the_wal_bounded(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker *writer, *w;
    struct ingest_result r;
    elect_with_meter(f, &writer, &w);
    char wal[sizeof f->db.path + 4], json[1100], *envelope = NULL;
    snprintf(wal, sizeof wal, "%s-wal", f->db.path);
    off_t peak = 0;
    for (int64_t seqn = 2; seqn <= 3000; seqn++) {
        int len = snprintf(json, sizeof json, "{\"SEQN\":%lld,\"pad\":\"%01000d\"}", (long long)seqn, 0);
        assert_int_equal(e2ee_seal_v2("meter", KEY, NULL, json, (size_t)len, &envelope), E2EE_OK);
        assert_int_equal(writer_submit(w->writer, 0, "meter", envelope, strlen(envelope), TEST_T0, false, &r),
                         WRITER_ANSWERED);
        assert_int_equal(r.outcome, INGEST_STORED);
        free(envelope);
        off_t size = file_size(wal);
        peak = size > peak ? size : peak;
    }
    assert_true(peak < 2500 * FRAME_BYTES);
    close_worker(w);
    close_worker(writer);
}

/* Another worker's commits, which leave their checkpoints to the writer: with the WAL past 1000
 * pages (but short of the fallback's 4000), the writer's next checkpoint between batches starts
 * it over, so that later commits do not grow its file. */
static void the_writer_checkpoints_other_workers_commits(void **state)
{
    struct testapp_fixture *f = *state;
    struct worker *writer, *w;
    elect_with_meter(f, &writer, &w);
    char wal[sizeof f->db.path + 4];
    snprintf(wal, sizeof wal, "%s-wal", f->db.path);
    static char reading[1001];
    memset(reading, 'x', sizeof reading - 1);
    int64_t seqn = 2;
    while (file_size(wal) <= 1100 * FRAME_BYTES) {
        assert_true(seqn < 1000);
        assert_int_equal(
            store_reading_add(w->store, "meter", seqn++, TEST_T0, TS_NONE, reading, sizeof reading - 1, 0, DEVICE_TRUST_V2),
            STORE_OK);
    }
    sleep_ms(5 * WRITER_CHECKPOINT_MS);
    off_t filled = file_size(wal);
    for (int i = 0; i < 100; i++)
        assert_int_equal(
            store_reading_add(w->store, "meter", seqn++, TEST_T0, TS_NONE, reading, sizeof reading - 1, 0, DEVICE_TRUST_V2),
            STORE_OK);
    assert_true(file_size(wal) == filled);
    close_worker(w);
    close_worker(writer);
}

int main(void)
{
    test_on_sqlite_only();
#define T(name) cmocka_unit_test_setup_teardown(name, testapp_setup_open, teardown)
    const struct CMUnitTest tests[] = {
        T(workers_readings_committed_by_one_writer),
        T(refusals_come_back_from_the_writer),
        T(bad_messages_are_dropped_or_answered_unreadable),
        T(heartbeat_times_reach_the_table),
        T(times_are_written_here_when_no_writer_takes_them),
        cmocka_unit_test(kill_the_writer_and_later_heartbeats_are_still_recorded),
        T(a_reading_the_writer_took_and_did_not_answer_is_in_doubt),
        T(the_writers_checkpoints_keep_the_wal_bounded),
        T(the_writer_checkpoints_other_workers_commits),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
