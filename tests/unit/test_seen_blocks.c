/* Unit tests of lib/seen_blocks.c: the SQL functions that read and write heartbeat times packed
 * 64 devices to a blob, called through SQL as the store calls them. */
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

#define SET_SQL                                                                                              \
    "INSERT INTO b (block, times) VALUES (" SEEN_BLOCK_SQL(                                                  \
        "?1") ", seen_set(NULL, ?1, ?2)) "                                                                   \
              "ON CONFLICT (block) DO UPDATE SET times = seen_set(times, ?1, ?2)"
#define LATER_SQL "UPDATE b SET times = seen_later(times, ?1, ?2) WHERE block = " SEEN_BLOCK_SQL("?1")
#define TIME_SQL                                                                                             \
    "SELECT coalesce((SELECT seen_time(times, ?1) FROM b WHERE block = " SEEN_BLOCK_SQL("?1") "), -1)"

static int64_t time_of(int64_t device)
{
    return sql_int(TIME_SQL, &device, 1);
}

static void put(const char *sql, int64_t device, int64_t at)
{
    const int64_t args[] = {device, at};
    exec_with(sql, args, 2);
}

/* Devices on both sides of a block's edges keep their own times; a new block reads 0 elsewhere. */
static void each_device_its_own_time(void **state)
{
    (void)state;
    const int64_t devices[] = {1, 62, 63, 64, 65, 127, 128, 1000000};
    size_t n = sizeof devices / sizeof devices[0];
    for (size_t i = 0; i < n; i++)
        put(SET_SQL, devices[i], TEST_T0 + (int64_t)i);
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

static void later_moves_forward_only_set_moves_anywhere(void **state)
{
    (void)state;
    put(SET_SQL, 300, TEST_T0);
    put(LATER_SQL, 300, TEST_T0 - 10);
    assert_int_equal(time_of(300), TEST_T0);
    put(LATER_SQL, 300, TEST_T0 + 10);
    assert_int_equal(time_of(300), TEST_T0 + 10);
    put(SET_SQL, 300, 0); /* a new device on an old id: never seen */
    assert_int_equal(time_of(300), 0);
    put(LATER_SQL, 301, TEST_T0); /* its neighbour, untouched by either */
    assert_int_equal(time_of(301), TEST_T0);
    assert_int_equal(time_of(300), 0);
}

/* Times outside 32 bits are kept as the nearest; a damaged or short blob reads as never seen. */
static void out_of_range_times_and_damaged_rows(void **state)
{
    (void)state;
    put(SET_SQL, 400, -5);
    assert_int_equal(time_of(400), 0);
    put(SET_SQL, 400, INT64_C(1) << 40);
    assert_int_equal(time_of(400), UINT32_MAX);
    exec_with("INSERT INTO b (block, times) VALUES (100, x'00000001')", NULL, 0);
    assert_int_equal(time_of(6400), 0);
    put(LATER_SQL, 6401, TEST_T0); /* rewritten whole, the rest 0 */
    assert_int_equal(time_of(6401), TEST_T0);
    assert_int_equal(time_of(6400), 0);
    assert_int_equal(sql_int("SELECT seen_time(NULL, 1)", NULL, 0), 0);
    assert_int_equal(sql_int("SELECT seen_time('text', 1)", NULL, 0), 0);
}

/* The aggregate migration 7 builds blocks with: one blob per group, each time in its slot. */
static void aggregate_builds_a_block(void **state)
{
    (void)state;
    exec_with("CREATE TEMP TABLE seen (device INTEGER PRIMARY KEY, at INTEGER)", NULL, 0);
    exec_with("INSERT INTO seen VALUES (640, 7), (641, 8), (703, 9), (704, 10)", NULL, 0);
    exec_with("INSERT INTO b (block, times) SELECT device >> 6, seen_block(device, at) FROM seen "
              "GROUP BY device >> 6",
              NULL, 0);
    assert_int_equal(time_of(640), 7);
    assert_int_equal(time_of(641), 8);
    assert_int_equal(time_of(642), 0);
    assert_int_equal(time_of(703), 9);
    assert_int_equal(time_of(704), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_device_its_own_time),
        cmocka_unit_test(later_moves_forward_only_set_moves_anywhere),
        cmocka_unit_test(out_of_range_times_and_damaged_rows),
        cmocka_unit_test(aggregate_builds_a_block),
    };
    return cmocka_run_group_tests(tests, open_db, close_db);
}
