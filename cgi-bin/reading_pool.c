/* The pool's committer of readings (see reading_pool.h), with its lock and socket in
 * pool_files.c. The socket is SOCK_SEQPACKET: a reading arrives whole, each request thread of
 * each worker has its own connection and waits for the answer before it sends again, so a
 * batch holds at most one reading per connection and the answers need no ids. */
#define _GNU_SOURCE /* accept4, pipe2, pthread_setname_np */
#include "reading_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lastseen.h"
#include "pool_files.h"
#include "store_sqlite.h"
#include "validate.h"

/* Request threads the committer serves (two per worker); more take their own readings. */
#define CONNECTIONS_MAX 64

/* A reading on the socket: this head, then the body. */
struct reading_head {
    int64_t now;
    char deviceid[DEVICE_ID_MAX + 1];
};

#define MESSAGE_MAX (sizeof(struct reading_head) + BODY_MAX)

/* The committer's part: a thread and the request threads connected to it. */
struct committer {
    pthread_t thread;
    int wake[2];                            /* a pipe: a byte on it stops the thread */
    struct pollfd fds[2 + CONNECTIONS_MAX]; /* wake[0], the listening socket, the connections */
    int nfds;
    char *inbox; /* one MESSAGE_MAX slot per reading of a batch */
    struct {
        int conn; /* the connection to answer */
        size_t length;
        struct ingest_result result;
    } batch[CONNECTIONS_MAX]; /* per reading of the batch, beside its inbox slot */
};

struct reading_pool {
    const struct config *config;
    struct lastseen *seen; /* lends the committer its connection */
    struct pool_files files;
    int conn_fd;                 /* this request thread's connection to the committer; -1: none */
    struct committer *committer; /* non-NULL while this worker runs it */
    struct turns *turns;         /* stepped aside in while an answer is awaited; may be NULL */
};

struct reading_pool *reading_pool_open(const struct config *config, struct lastseen *seen,
                                       struct turns *turns)
{
    struct reading_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->config = config;
    pool->seen = seen;
    pool->turns = turns;
    pool->conn_fd = -1;
    if (!pool_files_open(&pool->files, config->db_path, "readings")) {
        free(pool);
        return NULL;
    }
    return pool;
}

/* ---- the committer ---- */

static void drop_connection(struct committer *c, int i)
{
    close(c->fds[i].fd);
    c->fds[i] = c->fds[--c->nfds];
}

static void accept_connections(struct committer *c)
{
    int fd;
    while ((fd = accept4(c->fds[1].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (c->nfds == 2 + CONNECTIONS_MAX)
            close(fd); /* that request thread takes its own readings */
        else
            c->fds[c->nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
}

/* One reading from each connection that sent one (every connection when all is set);
 * returns how many. */
static int receive_batch(struct committer *c, bool all)
{
    int n = 0;
    for (int i = 2; i < c->nfds; i++) {
        if (!all && !(c->fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t got = recv(c->fds[i].fd, c->inbox + (size_t)n * MESSAGE_MAX, MESSAGE_MAX, MSG_TRUNC);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            drop_connection(c, i--);
        } else if (got > 0) {
            c->batch[n].conn = c->fds[i].fd;
            c->batch[n++].length = (size_t)got;
        }
    }
    return n;
}

/* A message is a head with a valid device id and at most BODY_MAX bytes of body; the head is
 * copied out, not cast in place. */
static bool read_head(const char *message, size_t len, struct reading_head *head)
{
    if (len < sizeof *head || len > MESSAGE_MAX)
        return false;
    memcpy(head, message, sizeof *head);
    return memchr(head->deviceid, '\0', sizeof head->deviceid) && valid_device_id(head->deviceid);
}

/* Takes the batch's readings in one transaction and answers each after its commit. */
static void commit_batch(struct reading_pool *pool, int n)
{
    struct committer *c = pool->committer;
    struct store *store = lastseen_lock_store(pool->seen);
    bool begun = store_batch_begin(store) == STORE_OK;
    for (int i = 0; i < n; i++) {
        const char *message = c->inbox + (size_t)i * MESSAGE_MAX;
        struct reading_head head;
        size_t length = c->batch[i].length;
        struct ingest_result *r = &c->batch[i].result;
        memset(r, 0, sizeof *r);
        if (!begun)
            r->outcome = INGEST_STORE_FAILED;
        else if (!read_head(message, length, &head))
            r->outcome = INGEST_UNREADABLE;
        else
            ingest_reading(store, pool->config, head.deviceid, message + sizeof head, length - sizeof head,
                           head.now, r);
    }
    bool committed = begun && store_batch_commit(store) == STORE_OK;
    if (!committed)
        fprintf(stderr, "provd: readings: %s\n", store_errmsg(store));
    lastseen_unlock_store(pool->seen);
    for (int i = 0; i < n; i++) {
        struct ingest_result *r = &c->batch[i].result;
        if (!committed && r->outcome == INGEST_STORED)
            r->outcome = INGEST_STORE_FAILED;
        send(c->batch[i].conn, r, sizeof *r, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}

/* Waits for readings; when stopped, answers those already sent before it closes. */
static void *commit_loop(void *data)
{
    struct reading_pool *pool = data;
    struct committer *c = pool->committer;
    pthread_setname_np(pthread_self(), "provd-readings"); /* for top -H, ps -L, strace */
    bool stopping = false;
    while (!stopping) {
        if (poll(c->fds, (nfds_t)c->nfds, -1) < 0)
            continue; /* EINTR */
        stopping = c->fds[0].revents != 0;
        if (c->fds[1].revents & POLLIN)
            accept_connections(c);
        int n = receive_batch(c, stopping);
        if (n > 0)
            commit_batch(pool, n);
    }
    return NULL;
}

static void free_committer(struct committer *c)
{
    for (int i = 0; i < c->nfds; i++)
        close(c->fds[i].fd);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    free(c->inbox);
    free(c);
}

static int listen_for_connections(const struct pool_files *files)
{
    int fd = pool_files_bind(files, SOCK_SEQPACKET);
    if (fd >= 0 && listen(fd, CONNECTIONS_MAX) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The thread runs with signals blocked: they stay the main thread's (libfcgi stops on SIGTERM). */
static bool start_thread(struct reading_pool *pool)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool started = pthread_create(&pool->committer->thread, NULL, commit_loop, pool) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

/* PROVD_SYNCHRONOUS=full: the lent connection syncs every commit too (its heartbeat-time
 * writes as well, twice a second). */
static bool sync_as_configured(struct reading_pool *pool)
{
    if (!pool->config->sync_every_commit)
        return true;
    bool synced = store_sync_every_commit(lastseen_lock_store(pool->seen)) == STORE_OK;
    lastseen_unlock_store(pool->seen);
    return synced;
}

static bool start_committer(struct reading_pool *pool)
{
    struct committer *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    c->wake[0] = c->wake[1] = -1;
    c->inbox = malloc(CONNECTIONS_MAX * MESSAGE_MAX); /* touched only as far as batches reach */
    int listen_fd = c->inbox ? listen_for_connections(&pool->files) : -1;
    if (listen_fd >= 0 && pipe2(c->wake, O_CLOEXEC) != 0)
        c->wake[0] = c->wake[1] = -1;
    c->fds[0] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
    c->fds[1] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    c->nfds = 2;
    bool ready = listen_fd >= 0 && c->wake[0] >= 0 && sync_as_configured(pool);
    if (ready) {
        pool->committer = c;
        ready = start_thread(pool);
    }
    if (!ready) {
        fprintf(stderr, "provd: readings are taken by each worker: no committer (socket, pipe or thread)\n");
        pool->committer = NULL;
        free_committer(c);
    }
    return ready;
}

static void stop_committer(struct reading_pool *pool)
{
    struct committer *c = pool->committer;
    if (write(c->wake[1], "", 1) == 1)
        pthread_join(c->thread, NULL);
    unlink(pool->files.addr.sun_path);
    free_committer(c);
    pool->committer = NULL;
}

/* ---- a worker handing readings over ---- */

/* Becomes the committer if nobody is. */
static bool lead(struct reading_pool *pool)
{
    if (pool->committer || !pool_files_lock(&pool->files))
        return false;
    if (start_committer(pool))
        return true;
    pool_files_unlock(&pool->files);
    return false;
}

static bool connect_committer(struct reading_pool *pool)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct timeval wait = {READING_POOL_WAIT_MS / 1000, READING_POOL_WAIT_MS % 1000 * 1000};
    if (fd >= 0 && connect(fd, (const struct sockaddr *)&pool->files.addr, sizeof pool->files.addr) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) == 0) {
        pool->conn_fd = fd;
        return true;
    }
    if (fd >= 0)
        close(fd);
    return false;
}

static void disconnect(struct reading_pool *pool)
{
    close(pool->conn_fd);
    pool->conn_fd = -1;
}

/* Receives the committer's answer, another request thread of the worker running meanwhile. */
static ssize_t await_answer(struct reading_pool *pool, struct ingest_result *r)
{
    if (!pool->turns)
        return recv(pool->conn_fd, r, sizeof *r, 0);
    turns_step_aside(pool->turns);
    ssize_t got = recv(pool->conn_fd, r, sizeof *r, 0);
    turns_back(pool->turns);
    return got;
}

/* Sends the reading (head, then body: one message) and waits for its answer; false (and
 * disconnected) when there was none. */
static bool hand_over(struct reading_pool *pool, const struct reading_head *head, const char *body,
                      size_t len, struct ingest_result *r)
{
    struct iovec parts[2] = {{(void *)head, sizeof *head}, {(void *)body, len}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
    ssize_t sent = sendmsg(pool->conn_fd, &message, MSG_NOSIGNAL);
    ssize_t got = sent == (ssize_t)(sizeof *head + len) ? await_answer(pool, r) : -1;
    if (got == (ssize_t)sizeof *r && r->outcome >= 0 && r->outcome < INGEST__COUNT) {
        r->state[sizeof r->state - 1] = '\0';
        return true;
    }
    disconnect(pool);
    return false;
}

bool reading_pool_submit(struct reading_pool *pool, const char *deviceid, const char *body, size_t len,
                         int64_t now, struct ingest_result *r)
{
    struct reading_head head = {.now = now};
    if (len > BODY_MAX || strlen(deviceid) >= sizeof head.deviceid)
        return false;
    strcpy(head.deviceid, deviceid);
    /* A connection left by a committer that stopped fails once: then connect (or lead) anew. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (pool->conn_fd < 0 && !connect_committer(pool) && !(lead(pool) && connect_committer(pool)))
            return false;
        if (hand_over(pool, &head, body, len, r))
            return true;
    }
    return false;
}

bool reading_pool_leads(struct reading_pool *pool)
{
    return pool->committer != NULL;
}

void reading_pool_free(struct reading_pool *pool)
{
    if (!pool)
        return;
    if (pool->conn_fd >= 0)
        disconnect(pool);
    if (pool->committer)
        stop_committer(pool);
    pool_files_close(&pool->files); /* frees the lock: another worker commits from its next reading */
    free(pool);
}
