/* The pool writer of heartbeat times (see seen_pool.h), with its lock and socket in
 * pool_files.c. The socket is SOCK_DGRAM, so a batch arrives whole or not at all. */
#include "seen_pool.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_files.h"

struct seen_pool {
    struct pool_files files;
    int sock_fd; /* the writer's bound socket, or the sending one; -1 until needed */
    bool leading;
};

struct seen_pool *seen_pool_open(const char *db_path)
{
    struct seen_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->sock_fd = -1;
    if (!pool_files_open(&pool->files, db_path, "seen")) {
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
    pool_files_close(&pool->files); /* frees the lock: another worker leads from its next batch */
    free(pool);
}

/* Binds the writer's socket in place of the sending one. */
static bool listen_for_batches(struct seen_pool *pool)
{
    int fd = pool_files_bind(&pool->files, SOCK_DGRAM);
    if (fd < 0)
        return false;
    if (pool->sock_fd >= 0)
        close(pool->sock_fd);
    pool->sock_fd = fd;
    return true;
}

bool seen_pool_lead(struct seen_pool *pool)
{
    if (!pool->leading && pool_files_lock(&pool->files)) {
        pool->leading = listen_for_batches(pool);
        if (!pool->leading)
            pool_files_unlock(&pool->files);
    }
    return pool->leading;
}

void seen_pool_resign(struct seen_pool *pool)
{
    if (pool->leading)
        pool_files_unbind(&pool->files);
}

bool seen_pool_send(struct seen_pool *pool, const struct store_seen *seen, size_t n)
{
    if (pool->sock_fd < 0)
        pool->sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    size_t bytes = n * sizeof *seen;
    /* MSG_DONTWAIT: a writer that falls behind fills its socket, and the batch is written here. */
    return pool->sock_fd >= 0 &&
           sendto(pool->sock_fd, seen, bytes, MSG_DONTWAIT, (const struct sockaddr *)&pool->files.addr,
                  sizeof pool->files.addr) == (ssize_t)bytes;
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
