/* Checkpoints away from the commits: a connection that leaves them to the writer does not
 * checkpoint until the WAL grows four times as long as a checkpoint lets it; a checkpoint on
 * another connection (the writer's, test_writer) starts the WAL over. A WAL that was
 * started over takes the next frames at its beginning, so its file does not grow: that is what
 * the tests look at. */
#include <sys/stat.h>

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
    tempdb_make_sqlite(&fx->db);
    fx->store = open_store(fx->db.path);
    snprintf(fx->wal, sizeof fx->wal, "%s-wal", fx->db.path);
    assert_int_equal(store_device_register(fx->store, "meter", "", "", NULL,
                                           REGISTRATION_UNCAPPED(REGISTRATION_OPEN), TEST_T0, NULL, NULL),
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
                                           sizeof reading - 1, 0, DEVICE_TRUST_V2),
                         STORE_OK);
        off_t size = wal_size(fx);
        peak = size > peak ? size : peak;
    }
    return peak;
}

/* Writes until the WAL holds more than 1100 frames, none of them checkpointed. */
static void fill_wal_past_a_checkpoint(struct fixture *fx)
{
    store_leave_checkpoints(fx->store);
    for (int rounds = 0; wal_size(fx) <= 1100 * FRAME_BYTES; rounds++) {
        assert_true(rounds < 40); /* 2000 readings: some 7000 frames */
        write_readings(fx, 50);
    }
}

/* 40000-odd frames in all: the WAL grows past the 1000 pages at which a commit would have
 * checkpointed, and is started over from 4000 on, however long the writer takes. */
static void commits_leave_checkpoints_to_the_writer(void **state)
{
    struct fixture *fx = *state;
    store_leave_checkpoints(fx->store);
    off_t peak = write_readings(fx, 12000);
    assert_true(peak > 1100 * FRAME_BYTES);
    assert_true(peak < 4100 * FRAME_BYTES);
}

/* Without store_leave_checkpoints() a commit checkpoints once the WAL holds 1000 pages. */
static void commits_checkpoint_themselves_by_default(void **state)
{
    struct fixture *fx = *state;
    off_t peak = write_readings(fx, 12000);
    assert_true(peak < 1100 * FRAME_BYTES);
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

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(commits_leave_checkpoints_to_the_writer),
        T(commits_checkpoint_themselves_by_default),
        T(a_checkpoint_starts_the_wal_over),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
