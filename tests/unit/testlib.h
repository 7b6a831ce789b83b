/* Helpers shared by the unit tests: a temporary directory for a real SQLite file, removed with
 * its WAL files afterwards, and the store opened on it. Static inline because the Makefile links
 * one object per test. */
#ifndef PROVD_TESTLIB_H
#define PROVD_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

/* A fixed instant for tests: 2026-11-22T08:42:10Z. */
#define TEST_T0 INT64_C(1795336930)

struct tempdb {
    char dir[256];
    char path[300];
};

static inline void tempdb_make(struct tempdb *t)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/provd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/provd.sqlite3", t->dir);
}

static inline void tempdb_remove(struct tempdb *t)
{
    static const char *const suffixes[] = {"",           "-wal",       "-shm",           "-journal",
                                           "-seen.lock", "-seen.sock", "-readings.lock", "-readings.sock"};
    char file[sizeof t->path + 16];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", t->path, suffixes[i]);
        unlink(file);
    }
    assert_int_equal(rmdir(t->dir), 0);
}

/* The store at path, failing the test with SQLite's reason when it does not open. */
static inline struct store *open_store(const char *path)
{
    char err[512] = "";
    struct store *s = store_open(path, err, sizeof err);
    if (!s)
        fail_msg("store_open: %s", err);
    return s;
}

/* Copies src into a fixed buffer, failing the test rather than truncating. */
static inline void copy_text(char *dst, size_t dst_len, const char *src)
{
    size_t len = strlen(src);
    assert_true(len < dst_len);
    memcpy(dst, src, len + 1);
}

/* Writes n copies of unit into out, failing the test when they do not fit; returns out. */
static inline char *repeat(char *out, size_t out_len, const char *unit, size_t n)
{
    size_t unit_len = strlen(unit);
    assert_true(n * unit_len < out_len);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * unit_len, unit, unit_len);
    out[n * unit_len] = '\0';
    return out;
}

#endif
