/* Helpers shared by the unit tests: a temporary directory for a real SQLite file, removed with
 * its WAL files afterwards, and processes reading it meanwhile. Static inline because the
 * Makefile links one object per test. */
#ifndef PROVD_TESTLIB_H
#define PROVD_TESTLIB_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

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

static inline off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* Other workers reading without pause: processes, as provd's workers are, each with its own
 * connection running sql over and over, until stop_readers() (or the test's end, whatever way
 * it ends: they die with it). */
#define READERS 3

struct readers {
    pid_t pid[READERS];
};

static inline void start_readers(struct readers *r, const char *path, const char *sql)
{
    pid_t parent = getpid();
    for (int i = 0; i < READERS; i++) {
        r->pid[i] = fork();
        assert_true(r->pid[i] >= 0);
        if (r->pid[i] > 0)
            continue;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        sqlite3 *db;
        sqlite3_stmt *st;
        if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            _exit(1);
        for (;;) {
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
}

/* Fails the test if a reader stopped before it was stopped. */
static inline void stop_readers(struct readers *r)
{
    for (int i = 0; i < READERS; i++) {
        assert_int_equal(waitpid(r->pid[i], NULL, WNOHANG), 0); /* it read all along */
        kill(r->pid[i], SIGKILL);
        waitpid(r->pid[i], NULL, 0);
    }
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
