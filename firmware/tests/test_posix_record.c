/* test_posix_record.c: devsim's per-device record: in memory, written through to a state file
 * that a restart reads back, files that are not records ignored, failed writes changing nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "record_store.h"

static const uint8_t rec_a[12] = "FWSQ\x40\0\0\0\xbf\xff\xff\xff";
static const uint8_t rec_b[12] = "FWSQ\x80\0\0\0\x7f\xff\xff\xff";

static int make_dir(void **state)
{
    char *dir = strdup("/tmp/test_posix_record.XXXXXX");

    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int remove_dir(void **state)
{
    char *dir = *state, path[128];

    snprintf(path, sizeof path, "%s/dev-1.seqn", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/big.seqn", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
    return 0;
}

static void test_memory_only(void **state)
{
    struct record r;
    uint8_t buf[RECORD_MAX];

    (void)state;
    assert_int_equal(record_load(&r, NULL, "dev-1"), 0);
    assert_int_equal(record_read(&r, buf, sizeof buf), -1); /* nothing yet */
    assert_int_equal(record_write(&r, NULL, "dev-1", rec_a, sizeof rec_a), 0);
    assert_int_equal(record_read(&r, buf, sizeof buf), sizeof rec_a);
    assert_memory_equal(buf, rec_a, sizeof rec_a);
    assert_int_equal(record_read(&r, buf, 4), -1); /* does not fit */
    assert_int_equal(record_write(&r, NULL, "dev-1", buf, RECORD_MAX + 1), -1);
    assert_int_equal(record_read(&r, buf, sizeof buf), sizeof rec_a);
}

static void test_file_survives_restart(void **state)
{
    const char *dir = *state;
    struct record r, again;
    uint8_t buf[RECORD_MAX];
    char path[128];

    assert_int_equal(record_load(&r, dir, "dev-1"), 0);
    assert_int_equal(record_read(&r, buf, sizeof buf), -1);
    assert_int_equal(record_write(&r, dir, "dev-1", rec_a, sizeof rec_a), 0);
    assert_int_equal(record_write(&r, dir, "dev-1", rec_b, sizeof rec_b), 0);
    snprintf(path, sizeof path, "%s/dev-1.seqn.tmp", dir);
    assert_int_equal(access(path, F_OK), -1);               /* renamed into place */
    assert_int_equal(record_load(&again, dir, "dev-1"), 0); /* the "restart" */
    assert_int_equal(record_read(&again, buf, sizeof buf), sizeof rec_b);
    assert_memory_equal(buf, rec_b, sizeof rec_b);
}

static void test_oversized_file_is_no_record(void **state)
{
    const char *dir = *state;
    struct record r;
    uint8_t buf[RECORD_MAX];
    char path[128], junk[RECORD_MAX + 8];
    FILE *fp;

    snprintf(path, sizeof path, "%s/big.seqn", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    memset(junk, 'x', sizeof junk);
    assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    fclose(fp);
    assert_int_equal(record_load(&r, dir, "big"), 0);
    assert_int_equal(record_read(&r, buf, sizeof buf), -1);
}

static void test_failed_write_changes_nothing(void **state)
{
    struct record r;
    uint8_t buf[RECORD_MAX];

    (void)state;
    assert_int_equal(record_load(&r, NULL, "dev-1"), 0);
    assert_int_equal(record_write(&r, NULL, "dev-1", rec_a, sizeof rec_a), 0);
    assert_int_equal(record_write(&r, "/nonexistent/devsim-state", "dev-1", rec_b, sizeof rec_b), -1);
    assert_int_equal(record_read(&r, buf, sizeof buf), sizeof rec_a);
    assert_memory_equal(buf, rec_a, sizeof rec_a);
    assert_int_equal(record_load(&r, "/nonexistent/devsim-state", "dev-1"), 0); /* no file: none */
    assert_int_equal(record_read(&r, buf, sizeof buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_only),
        cmocka_unit_test_setup_teardown(test_file_survives_restart, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_oversized_file_is_no_record, make_dir, remove_dir),
        cmocka_unit_test(test_failed_write_changes_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
