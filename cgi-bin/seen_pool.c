/* The pool writer of heartbeat times (see seen_pool.h). The lock is flock()ed, so a process's
 * death frees it; the socket is SOCK_DGRAM, so a batch arrives whole or not at all, and it is
 * private to the database's owner (mode 0600 beside the database). */
#include "seen_pool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct seen_pool {
    int lock_fd;
    int sock_fd; /* the writer's bound socket, or the sending one; -1 until needed */
    bool leading;
    struct sockaddr_un addr;
};

struct seen_pool *seen_pool_open(const char *db_path)
{
    struct seen_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->sock_fd = -1;
    pool->addr.sun_family = AF_UNIX;
    int len = snprintf(pool->addr.sun_path, sizeof pool->addr.sun_path, "%s-seen.sock", db_path);
    char lock_path[4096];
    if (len < 0 || (size_t)len >= sizeof pool->addr.sun_path ||
        snprintf(lock_path, sizeof lock_path, "%s-seen.lock", db_path) >= (int)sizeof lock_path ||
        (pool->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        free(pool);
        return NULL;
    }
    return pool;
}

void seen_pool_free(struct seen_pool *pool)
{
    if (!pool)
        return;
    if (pool->sock_fd >= 0)
        close(pool->sock_fd);
    close(pool->lock_fd); /* frees the lock: another worker leads from its next batch */
    free(pool);
}

/* Binds the writer's socket, replacing the one a dead writer left (holding the lock, this
 * worker is the only one that may). */
static bool listen_for_batches(struct seen_pool *pool)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    unlink(pool->addr.sun_path);
    if (bind(fd, (const struct sockaddr *)&pool->addr, sizeof pool->addr) != 0 ||
        chmod(pool->addr.sun_path, 0600) != 0) {
        close(fd);
        return false;
    }
    if (pool->sock_fd >= 0)
        close(pool->sock_fd);
    pool->sock_fd = fd;
    return true;
}

bool seen_pool_lead(struct seen_pool *pool)
{
    if (!pool->leading && flock(pool->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        pool->leading = listen_for_batches(pool);
        if (!pool->leading)
            flock(pool->lock_fd, LOCK_UN);
    }
    return pool->leading;
}

bool seen_pool_send(struct seen_pool *pool, const struct store_seen *seen, size_t n)
{
    if (pool->sock_fd < 0)
        pool->sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    size_t bytes = n * sizeof *seen;
    /* MSG_DONTWAIT: a writer that falls behind fills its socket, and the batch is written here. */
    return pool->sock_fd >= 0 && sendto(pool->sock_fd, seen, bytes, MSG_DONTWAIT, (const struct sockaddr *)&pool->addr,
                                        sizeof pool->addr) == (ssize_t)bytes;
}

size_t seen_pool_receive(struct seen_pool *pool, struct store_seen *seen, size_t max)
{
    for (;;) {
        ssize_t got = recv(pool->sock_fd, seen, max * sizeof *seen, MSG_TRUNC);
        if (got < 0)
            return 0; /* EAGAIN: none waits */
        /* Only whole batches of real rows: anything else is no worker's and is dropped. */
        size_t n = (size_t)got / sizeof *seen;
        bool whole = (size_t)got % sizeof *seen == 0 && n <= max && n > 0;
        for (size_t i = 0; whole && i < n; i++)
            whole = seen[i].row > 0 && seen[i].at > 0;
        if (whole)
            return n;
    }
}
