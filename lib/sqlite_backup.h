/* Whole-database copies of a SQLite database with SQLite's online backup API, for
 * store_backup() and store_restore() (lib/store_sqlite.c). */
#ifndef PROVD_SQLITE_BACKUP_H
#define PROVD_SQLITE_BACKUP_H

#include <sqlite3.h>

#include "store.h"

/* Copies db's main database into the new file path (refused if it exists; created 0600), as of
 * one moment: the copy reads one snapshot of db while other connections go on writing. On failure
 * path is removed and err says why. */
bool sqlite_backup_to(sqlite3 *db, const char *path, store_progress_fn progress, void *user_data, char *err,
                      size_t err_len);

/* Replaces db's main database with the copy at path, once the copy has passed SQLite's integrity
 * check and is of a schema version up to max_version; db is written in one transaction, so a
 * failure leaves it as it was. */
bool sqlite_backup_restore(sqlite3 *db, const char *path, int max_version, store_progress_fn progress,
                           void *user_data, char *err, size_t err_len);

#endif
