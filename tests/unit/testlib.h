/* Helpers shared by the unit tests: a temporary database, removed afterwards, and the store
 * opened on it: a real SQLite file in a temporary directory, or with PROVD_TEST_PG set (a base
 * URI such as postgresql://provd@127.0.0.1:55440/, see scripts/pg-cluster.sh) a new database of
 * that PostgreSQL cluster. Static inline because the Makefile links one object per test. */
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
#include <libpq-fe.h>

#include "server_key.h"
#include "store.h"

/* The server key of the stores the tests open (open_store()). */
static const struct server_key test_server_key = {{[0] = 0x70, [1] = 0x72, [31] = 0x64}};

/* A fixed instant for tests: 2026-11-22T08:42:10Z. */
#define TEST_T0 INT64_C(1795336930)

struct tempdb {
    char dir[256];   /* SQLite: the directory of the file */
    char path[300];  /* what store_open() takes: the file, or the database's URI */
    char pgname[64]; /* PostgreSQL: the database's name; "" for SQLite */
};

/* PROVD_TEST_PG, or NULL when the tests run on SQLite. */
static inline const char *test_pg_base(void)
{
    const char *base = getenv("PROVD_TEST_PG");
    return base && *base ? base : NULL;
}

/* For the programs that test what only SQLite has through fixtures the tests of both backends
 * share (testapp.h, store_fixture.h), which call tempdb_make(): called first in main(), it makes
 * every database a SQLite file, PROVD_TEST_PG or not. A fixture of its own calls
 * tempdb_make_sqlite() instead. */
static inline void test_on_sqlite_only(void)
{
    unsetenv("PROVD_TEST_PG");
}

static inline void test_pg_quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

/* A connection to the database named name of the PROVD_TEST_PG cluster (its other settings
 * kept), failing the test when there is none. */
static inline PGconn *test_pg_connect(const char *name)
{
    const char *base = test_pg_base();
    if (!base)
        fail_msg("PROVD_TEST_PG is not set");
    static const char *const keywords[] = {"dbname", "dbname", NULL};
    const char *values[] = {base, name, NULL};
    PGconn *conn = PQconnectdbParams(keywords, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", PQerrorMessage(conn));
        PQfinish(conn);
        fail_msg("PROVD_TEST_PG=%s, database %s: %s", base, name, why);
    }
    PQsetNoticeProcessor(conn, test_pg_quiet, NULL); /* "does not exist, skipping" */
    return conn;
}

/* Runs sql (text of the test's own, no parameters) and fails the test unless it succeeds. */
static inline void test_pg_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", PQresultErrorMessage(res));
        PQclear(res);
        fail_msg("%s: %s", sql, why);
    }
    PQclear(res);
}

/* A new SQLite file's path, whatever PROVD_TEST_PG says (the SQLite-only tests). */
static inline void tempdb_make_sqlite(struct tempdb *t)
{
    const char *tmp = getenv("TMPDIR");
    t->pgname[0] = '\0';
    snprintf(t->dir, sizeof t->dir, "%s/provd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/provd.sqlite3", t->dir);
}

/* A new empty database: a SQLite file, or with PROVD_TEST_PG a PostgreSQL database of its own. */
static inline void tempdb_make(struct tempdb *t)
{
    const char *base = test_pg_base();
    if (!base) {
        tempdb_make_sqlite(t);
        return;
    }
    static unsigned made;
    size_t len = strlen(base);
    if (len == 0 || base[len - 1] != '/')
        fail_msg("PROVD_TEST_PG=%s: a base URI ending in '/' (postgresql://user@host:port/)", base);
    snprintf(t->pgname, sizeof t->pgname, "provd_test_%ld_%u", (long)getpid(), made++);
    t->dir[0] = '\0';
    snprintf(t->path, sizeof t->path, "%s%s", base, t->pgname);
    PGconn *conn = test_pg_connect("postgres");
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->pgname); /* a crashed run's */
    test_pg_exec(conn, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->pgname);
    test_pg_exec(conn, sql);
    PQfinish(conn);
}

static inline void tempdb_remove(struct tempdb *t)
{
    if (t->pgname[0]) {
        PGconn *conn = test_pg_connect("postgres");
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", t->pgname);
        test_pg_exec(conn, sql);
        PQfinish(conn);
        return;
    }
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", "-writer.lock", "-writer.sock",
                                                 "-alerts.lock"};
    char file[sizeof t->path + 16];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", t->path, suffixes[i]);
        unlink(file);
    }
    assert_int_equal(rmdir(t->dir), 0);
}

/* The store at path, failing the test with the reason when it does not open. */
static inline struct store *open_store(const char *path)
{
    char err[512] = "";
    struct store *s = store_open(path, err, sizeof err);
    if (!s)
        fail_msg("store_open: %s", err);
    store_use_server_key(s, &test_server_key);
    return s;
}

/* store_readings_add() of r[0..n) (at most 8) answers want, and each reading the status in each. */
static inline void readings_answer(struct store *s, const struct reading_new *r, size_t n, enum store_status want,
                                   const enum store_status *each)
{
    enum store_status status[8];
    assert_true(n <= 8);
    assert_int_equal(store_readings_add(s, r, n, status), want);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(status[i], each[i]);
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
