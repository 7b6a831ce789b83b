/* The server key: 32 random bytes in a file of their own (PROVD_KEY_FILE), under which device
 * keys are stored in the database (key_wrap.h), so that a copy of the database alone holds none. */
#ifndef PROVD_SERVER_KEY_H
#define PROVD_SERVER_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define SERVER_KEY_LEN 32 /* AES-256 */

struct server_key {
    unsigned char bytes[SERVER_KEY_LEN];
};

/* Where the server key is: PROVD_KEY_FILE, else for a SQLite database provd.key beside it;
 * false (with why in err) for PostgreSQL without PROVD_KEY_FILE. */
bool server_key_path(const char *db_target, char *path, size_t path_len, char *err, size_t err_len);

/* Reads the key file at path: 64 hex digits and a newline, a regular file (not a link) that
 * neither group nor others may read or write. With create, a missing file is made first, 0600,
 * from fresh randomness (of two processes making it at once, both read the one that won).
 * false with the reason in err, which names the file and what to do. */
bool server_key_load(const char *path, bool create, struct server_key *key, char *err, size_t err_len);

#endif
