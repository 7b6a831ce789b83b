/* Unit tests of lib/seen_blocks.c: the SQL functions with which migration 7 packed heartbeat times
 * 64 devices to a blob and migration 9 reads them back, called through SQL as they do. */
#include "testlib.h"

#include <sqlite3.h>

#include "seen_blocks.h"

static sqlite3 *db;

static int open_db(void **state)
{
    (void)state;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(seen_blocks_register(db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE b (block INTEGER PRIMARY KEY, times BLOB NOT NULL)", NULL, NULL, NULL),
        SQLITE_OK);
    return 0;
}

static int close_db(void **state)
{
    (void)state;
    sqlite3_close(db);
    return 0;
}

/* The statement of sql with ?1.. bound to args (n of them). */
static sqlite3_stmt *bound(const char *sql, const int64_t *args, int n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    for (int i = 0; i < n; i++)
        sqlite3_bind_int64(st, i + 1, args[i]);
    return st;
}

/* The one integer the SQL gives. */
static int64_t sql_int(const char *sql, const int64_t *args, int n)
{
    sqlite3_stmt *st = bound(sql, args, n);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void exec_with(const char *sql, const int64_t *args, int n)
{
    sqlite3_stmt *st = bound(sql, args, n);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

#define TIME_SQL                                                                                             \
    "SELECT coalesce((SELECT seen_time(times, ?1) FROM b WHERE block = " SEEN_BLOCK_SQL("?1") "), -1)"

static int64_t time_of(int64_t device)
{
    return sql_int(TIME_SQL, &device, 1);
}

/* Packs the n devices' times into blocks as migration 7 did (rows of b replaced). */
static void pack(const int64_t *devices, const int64_t *ats, size_t n)
{
    exec_with("CREATE TEMP TABLE IF NOT EXISTS seen (device INTEGER PRIMARY KEY, at INTEGER)", NULL, 0);
    exec_with("DELETE FROM seen", NULL, 0);
    for (size_t i = 0; i < n; i++) {
        const int64_t args[] = {devices[i], ats[i]};
        exec_with("INSERT INTO seen VALUES (?1, ?2)", args, 2);
    }
    exec_with("INSERT OR REPLACE INTO b (block, times) SELECT device >> 6, seen_block(device, at) FROM seen "
              "GROUP BY device >> 6",
              NULL, 0);
}

/* Devices on both sides of a block's edges keep their own times; the rest of a block reads 0. */
static void each_device_its_own_time(void **state)
{
    (void)state;
    const int64_t devices[] = {1, 62, 63, 64, 65, 127, 128, 1000000};
    int64_t ats[8];
    size_t n = sizeof devices / sizeof devices[0];
    for (size_t i = 0; i < n; i++)
        ats[i] = TEST_T0 + (int64_t)i;
    pack(devices, ats, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(time_of(devices[i]), TEST_T0 + (int64_t)i);
    assert_int_equal(time_of(2), 0); /* in a block, never set */
    assert_int_equal(time_of(129), 0);
    assert_int_equal(time_of(5000), -1); /* no block at all */
    int64_t blocks = sql_int("SELECT count(*) FROM b", NULL, 0);
    assert_int_equal(blocks, 4); /* 0, 1, 2 and 15625 */
    assert_int_equal(sql_int("SELECT min(length(times)) = max(length(times)) FROM b", NULL, 0), 1);
    assert_int_equal(sql_int("SELECT length(times) FROM b LIMIT 1", NULL, 0), SEEN_BLOCK_BYTES);
}

/* Times outside 32 bits are kept as the nearest; a damaged or short blob reads as never seen. */
static void out_of_range_times_and_damaged_rows(void **state)
{
    (void)state;
    const int64_t devices[] = {400, 401}, ats[] = {-5, INT64_C(1) << 40};
    pack(devices, ats, 2);
    assert_int_equal(time_of(400), 0);
    assert_int_equal(time_of(401), UINT32_MAX);
    exec_with("INSERT INTO b (block, times) VALUES (100, x'00000001')", NULL, 0);
    assert_int_equal(time_of(6400), 0);
    assert_int_equal(sql_int("SELECT seen_time(NULL, 1)", NULL, 0), 0);
    assert_int_equal(sql_int("SELECT seen_time('text', 1)", NULL, 0), 0);
}

/* Migration 9 reads every device's time out of the blocks with seen_time (0 for none). */
static void migration_9_reads_the_blocks_back(void **state)
{
    (void)state;
    const int64_t devices[] = {640, 641, 703, 704}, ats[] = {7, 8, 9, 10};
    pack(devices, ats, 4);
    exec_with("CREATE TEMP TABLE d (id INTEGER PRIMARY KEY)", NULL, 0);
    exec_with("INSERT INTO d VALUES (640), (641), (642), (703), (704), (90000)", NULL, 0);
    const int64_t want[][2] = {{640, 7}, {641, 8}, {642, 0}, {703, 9}, {704, 10}, {90000, 0}};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(
            sql_int("SELECT seen_time(h.times, d.id) FROM d LEFT JOIN b h ON h.block = d.id >> 6 "
                    "WHERE d.id = ?1",
                    want[i], 1),
            want[i][1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_device_its_own_time),
        cmocka_unit_test(out_of_range_times_and_damaged_rows),
        cmocka_unit_test(migration_9_reads_the_blocks_back),
    };
    return cmocka_run_group_tests(tests, open_db, close_db);
}
