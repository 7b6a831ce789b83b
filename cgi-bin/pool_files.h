/* The files a pool of workers shares beside its database: <db>-<name>.lock, whose flock()
 * holder leads the pool (the kernel frees it when that worker dies), and <db>-<name>.sock, the
 * leader's socket, private to the database's owner. Used by seen_pool.c and reading_pool.c. */
#ifndef PROVD_POOL_FILES_H
#define PROVD_POOL_FILES_H

#include <stdbool.h>
#include <sys/un.h>

struct pool_files {
    int lock_fd;
    struct sockaddr_un addr; /* the leader's socket */
};

/* Opens (creating, mode 0600) the lock file; false when it cannot be opened or the socket's
 * path would be too long. */
bool pool_files_open(struct pool_files *files, const char *db_path, const char *name);
/* Closes the lock file, which frees the lock if this worker held it. */
void pool_files_close(struct pool_files *files);
/* Takes the lock if nobody holds it; pool_files_unlock() gives it back. */
bool pool_files_lock(struct pool_files *files);
void pool_files_unlock(struct pool_files *files);
/* A non-blocking socket of type (SOCK_DGRAM, SOCK_SEQPACKET) bound to the pool's address,
 * mode 0600, replacing the one a dead leader left (only the lock's holder may); -1 when it
 * cannot be made. */
int pool_files_bind(const struct pool_files *files, int type);
/* Takes the bound socket's name away (the lock's holder only): sends to the pool fail from then
 * on, while what was already sent can still be received. */
void pool_files_unbind(const struct pool_files *files);

#endif
