/* The group fixture of bench/tests: one real database in a temporary directory for all tests
 * of a file, opened before the first and removed after the last. */
#ifndef PROVD_BENCH_STORE_FIXTURE_H
#define PROVD_BENCH_STORE_FIXTURE_H

#include "testlib.h"

#include "store.h"

static struct tempdb db;
static struct store *store;

static int open_db(void **state)
{
    (void)state;
    char err[512] = "";
    tempdb_make(&db);
    store = store_open(db.path, err, sizeof err);
    return store ? 0 : -1;
}

static int close_db(void **state)
{
    (void)state;
    store_free(store);
    tempdb_remove(&db);
    return 0;
}

#endif
