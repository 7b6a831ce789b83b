/* Checkpoints away from the commits: a connection with a checkpointer tells it the WAL's length
 * instead of checkpointing, until the WAL grows four times as long as a checkpoint lets it; a
 * checkpoint on another connection starts the WAL over; the checkpointer thread runs one once the
 * WAL has grown by a step, the one asked for last even as it stops. A WAL that was started over
 * takes the next frames at its beginning, so its file does not grow: that is what the tests look
 * at. */
#include <sys/stat.h>

#include "checkpointer.h"
#include "store_sqlite.h"
#include "testlib.h"

/* A WAL frame: a 24-byte header and a 4 KiB page (SQLite's default page size). */
#define FRAME_BYTES (24 + 4096)

struct fixture {
    struct tempdb db;
    struct store *store;
    char wal[sizeof((struct tempdb *)0)->path + 4];
    int64_t next_seqn;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tempdb_make(&fx->db);
    fx->store = open_store(fx->db.path);
    snprintf(fx->wal, sizeof fx->wal, "%s-wal", fx->db.path);
    assert_int_equal(
        store_device_register(fx->store, "meter", "", "", REGISTRATION_OPEN, TEST_T0, NULL, NULL),
        STORE_CREATED);
    fx->next_seqn = 1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_free(fx->store);
    tempdb_remove(&fx->db);
    free(fx);
    return 0;
}

static off_t wal_size(const struct fixture *fx)
{
    struct stat sb;
    return stat(fx->wal, &sb) == 0 ? sb.st_size : 0;
}

/* n readings of 1 KB, a commit each (three or four frames); returns the WAL's largest size. */
static off_t write_readings(struct fixture *fx, int n)
{
    static char reading[1001];
    memset(reading, 'x', sizeof reading - 1);
    off_t peak = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_reading_add(fx->store, "meter", fx->next_seqn++, TEST_T0, TS_NONE, reading,
                                           sizeof reading - 1),
                         STORE_OK);
        off_t size = wal_size(fx);
        peak = size > peak ? size : peak;
    }
    return peak;
}

/* Told after each commit: the WAL's length in pages then. */
struct wal_lengths {
    int told;
    int longest;
};

static void note_length(int wal_pages, void *lengths)
{
    struct wal_lengths *l = lengths;
    l->told++;
    l->longest = wal_pages > l->longest ? wal_pages : l->longest;
}

static void ignore_length(int wal_pages, void *unused)
{
    (void)wal_pages;
    (void)unused;
}

/* Writes until the WAL holds more than 1100 frames, none of them checkpointed. */
static void fill_wal_past_a_checkpoint(struct fixture *fx)
{
    store_set_checkpointer(fx->store, ignore_length, NULL);
    for (int rounds = 0; wal_size(fx) <= 1100 * FRAME_BYTES; rounds++) {
        assert_true(rounds < 40); /* 2000 readings: some 7000 frames */
        write_readings(fx, 50);
    }
}

/* 40000-odd frames in all: the WAL grows past the 1000 pages at which a commit would have
 * checkpointed, and is started over from 4000 on, however long the checkpointer sleeps. */
static void commits_leave_checkpoints_to_the_checkpointer(void **state)
{
    struct fixture *fx = *state;
    struct wal_lengths lengths = {0};
    store_set_checkpointer(fx->store, note_length, &lengths);
    off_t peak = write_readings(fx, 12000);
    assert_true(lengths.told > 0);
    assert_true(lengths.longest > 1100 && (off_t)lengths.longest * FRAME_BYTES <= peak);
    assert_true(peak > 1100 * FRAME_BYTES);
    assert_true(peak < 4100 * FRAME_BYTES);
}

static void a_checkpoint_starts_the_wal_over(void **state)
{
    struct fixture *fx = *state;
    fill_wal_past_a_checkpoint(fx);
    off_t filled = wal_size(fx);
    struct store *checkpointing = open_store(fx->db.path);
    store_checkpoint(checkpointing);
    store_free(checkpointing);
    assert_true(write_readings(fx, 200) == filled);
}

static struct checkpointer *start_checkpointer(const struct fixture *fx)
{
    char err[512] = "";
    struct checkpointer *c = checkpointer_start(fx->db.path, err, sizeof err);
    if (!c)
        fail_msg("checkpointer_start: %s", err);
    return c;
}

/* Told the WAL's length just before the stop: the thread runs its checkpoint before it ends. */
static void the_checkpointer_runs_the_checkpoint_asked_for(void **state)
{
    struct fixture *fx = *state;
    fill_wal_past_a_checkpoint(fx);
    off_t filled = wal_size(fx);
    struct checkpointer *c = start_checkpointer(fx);
    checkpointer_wake((int)(filled / FRAME_BYTES), c);
    checkpointer_stop(c);
    assert_true(write_readings(fx, 200) == filled);
}

/* A WAL shorter than a step asks for nothing: the WAL is not started over, its file grows. */
static void the_checkpointer_waits_for_a_step_of_growth(void **state)
{
    struct fixture *fx = *state;
    fill_wal_past_a_checkpoint(fx);
    off_t filled = wal_size(fx);
    struct checkpointer *c = start_checkpointer(fx);
    checkpointer_wake(CHECKPOINTER_STEP_PAGES - 1, c);
    checkpointer_stop(c);
    assert_true(write_readings(fx, 200) > filled);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(commits_leave_checkpoints_to_the_checkpointer),
        T(a_checkpoint_starts_the_wal_over),
        T(the_checkpointer_runs_the_checkpoint_asked_for),
        T(the_checkpointer_waits_for_a_step_of_growth),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
