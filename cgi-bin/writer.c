/* The writer of writer.h: a worker's side (its queue of heartbeat times, its connections,
 * the election) and the writer's thread (its poll loop, batches and checkpoints). */
#define _GNU_SOURCE /* accept4, pipe2, pthread_setname_np */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store_sqlite.h"
#include "validate.h"

/* The connections the writer serves: up to five per worker (four request threads and the times),
 * so stacks of up to 51 workers; the inbox is touched only as far as batches reach. A connection past
 * it is closed at once, and its worker writes its own readings and times from then on. */
#define CONNECTIONS_MAX 256
#define MERGED_MAX      (8 * WRITER_QUEUE_MAX) /* the writer's merge of times; written when full */

enum kind { KIND_READING = 1, KIND_TIMES, KIND_ANSWER };

/* The messages' layout (writer.h): offsets and lengths in bytes. */
#define HEAD_LEN         8
#define ID_LEN           (DEVICE_ID_MAX + 1)
#define READING_HEAD_LEN (HEAD_LEN + 8 + 1 + ID_LEN)
#define READING_MAX_LEN  (READING_HEAD_LEN + BODY_MAX)
#define TIME_LEN         16
#define TIMES_MAX_LEN    (HEAD_LEN + WRITER_QUEUE_MAX * TIME_LEN)
#define ANSWER_STATE_LEN 16
#define ANSWER_LEN       (HEAD_LEN + 4 + 8 + ANSWER_STATE_LEN + 4)
#define MESSAGE_MAX      (READING_MAX_LEN > TIMES_MAX_LEN ? READING_MAX_LEN : TIMES_MAX_LEN)

/* A queue of times is sent as it lies in memory: a row and a time, 8 bytes each, no padding. */
_Static_assert(sizeof(struct store_seen) == TIME_LEN, "struct store_seen is two int64_t");
_Static_assert(sizeof(((struct ingest_result *)0)->state) == ANSWER_STATE_LEN, "the answer's state");

/* The writer's part, while this worker runs it. Only its thread touches what follows thread. */
struct leader {
    const struct config *config;
    const struct sockaddr_un *addr;
    pthread_t thread;
    int wake[2];                            /* a pipe: a byte on it stops the thread */
    struct pollfd fds[2 + CONNECTIONS_MAX]; /* wake[0], the listening socket, the connections */
    int nfds;
    struct store *store;       /* the writer's connection */
    struct store_seen *merged; /* every worker's heartbeat times since the last write */
    size_t n_merged;
    int64_t seen_due, checkpoint_due; /* monotonic ms */
    unsigned char *inbox;             /* one MESSAGE_MAX slot per reading of a batch */
    bool one_writer;                  /* STORE_NEEDS_ONE_WRITER: times, checkpoints, one transaction */
    struct {
        int conn; /* the connection to answer */
        size_t length;
        struct ingest_result result;
    } batch[CONNECTIONS_MAX];
    struct ingest_item items[CONNECTIONS_MAX]; /* the batch's readable readings */
    char ids[CONNECTIONS_MAX][ID_LEN];
};

struct writer {
    const struct config *config;
    struct turns *turns;
    int lock_fd;
    struct sockaddr_un addr;
    int conn[WRITER_THREADS]; /* each request thread's connection for readings; -1: none */
    pthread_mutex_t lock;            /* what follows */
    int times_conn;                  /* the connection times are sent on; -1: none */
    struct store_seen queue[WRITER_QUEUE_MAX];
    size_t queued;
    int64_t queued_at;     /* monotonic ms: when the oldest queued time came */
    struct leader *leader; /* non-NULL while this worker runs the writer */
};

/* A monotonic clock: a vDSO call, no system call. */
static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- messages ---- */

static void put_head(unsigned char *m, enum kind kind, size_t len)
{
    uint32_t length = (uint32_t)len;
    m[0] = WRITER_VERSION;
    m[1] = (unsigned char)kind;
    m[2] = m[3] = 0;
    memcpy(m + 4, &length, 4);
}

/* The kind of a message of got bytes (what recv() with MSG_TRUNC returned) that may be at most
 * max long; 0 when its version, padding or length is wrong. */
static int kind_of(const unsigned char *m, ssize_t got, size_t max)
{
    uint32_t length;
    if (got < HEAD_LEN || (size_t)got > max)
        return 0;
    memcpy(&length, m + 4, 4);
    return m[0] == WRITER_VERSION && m[2] == 0 && m[3] == 0 && length == (size_t)got ? m[1] : 0;
}

static int64_t get_i64(const unsigned char *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A reading's received_at, proof flag and device id; false when the message is no readable reading. */
static bool read_reading(const unsigned char *m, size_t got, int64_t *now, bool *proved, char id[ID_LEN])
{
    if (kind_of(m, (ssize_t)got, READING_MAX_LEN) != KIND_READING || got < READING_HEAD_LEN)
        return false;
    *now = get_i64(m + HEAD_LEN);
    *proved = m[HEAD_LEN + 8] == 1;
    memcpy(id, m + HEAD_LEN + 9, ID_LEN);
    return m[HEAD_LEN + 8] <= 1 && memchr(id, '\0', ID_LEN) && valid_device_id(id);
}

static void send_answer(int conn, const struct ingest_result *r)
{
    unsigned char m[ANSWER_LEN];
    put_head(m, KIND_ANSWER, sizeof m);
    memcpy(m + HEAD_LEN, &r->outcome, 4);
    memcpy(m + HEAD_LEN + 4, &r->seqn, 8);
    memcpy(m + HEAD_LEN + 12, r->state, ANSWER_STATE_LEN);
    memcpy(m + HEAD_LEN + 12 + ANSWER_STATE_LEN, &r->reason, 4);
    send(conn, m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static bool read_answer(const unsigned char *m, ssize_t got, struct ingest_result *r)
{
    if (got != ANSWER_LEN || kind_of(m, got, ANSWER_LEN) != KIND_ANSWER)
        return false;
    memcpy(&r->outcome, m + HEAD_LEN, 4);
    memcpy(&r->seqn, m + HEAD_LEN + 4, 8);
    memcpy(r->state, m + HEAD_LEN + 12, ANSWER_STATE_LEN);
    r->state[ANSWER_STATE_LEN - 1] = '\0';
    memcpy(&r->reason, m + HEAD_LEN + 12 + ANSWER_STATE_LEN, 4);
    return r->outcome >= 0 && r->outcome < INGEST__COUNT;
}

/* By row, the latest time first. */
static int by_row_latest_first(const void *a, const void *b)
{
    const struct store_seen *x = a, *y = b;
    if (x->row != y->row)
        return (x->row > y->row) - (x->row < y->row);
    return (x->at < y->at) - (x->at > y->at);
}

/* Sorts the times by row (rows that share a page are written together) and keeps each row's
 * latest; returns how many are left. */
static size_t latest_by_row(struct store_seen *t, size_t n)
{
    qsort(t, n, sizeof *t, by_row_latest_first);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || t[kept - 1].row != t[i].row)
            t[kept++] = t[i];
    return kept;
}

static void write_times(struct store *store, struct store_seen *t, size_t n)
{
    n = latest_by_row(t, n);
    if (n > 0 && store_device_seen(store, t, n) != STORE_OK)
        log_event("error", "heartbeat_times", NULL, NULL, "%s", store_errmsg(store));
}

/* ---- the writer's thread ---- */

static bool merge(struct leader *l, int64_t row, int64_t at)
{
    if (l->n_merged == MERGED_MAX)
        return false;
    if (l->n_merged == 0)
        l->seen_due = now_ms() + WRITER_SEEN_MS;
    l->merged[l->n_merged++] = (struct store_seen){row, at};
    return true;
}

/* The sink of the writer's connection: a reading's heartbeat time (false when full: the reading
 * writes it itself, inside its batch). */
static bool merge_seen(int64_t row, int64_t at, void *leader)
{
    return merge(leader, row, at);
}

static void write_merged(struct leader *l)
{
    write_times(l->store, l->merged, l->n_merged);
    l->n_merged = 0;
}

/* Merges a message of heartbeat times; false when it is not one. Rows and times that are no
 * device's (not positive) are skipped. */
static bool take_times(struct leader *l, const unsigned char *m, ssize_t got)
{
    if (kind_of(m, got, TIMES_MAX_LEN) != KIND_TIMES || (got - HEAD_LEN) % TIME_LEN != 0)
        return false;
    for (const unsigned char *p = m + HEAD_LEN; p < m + got; p += TIME_LEN) {
        int64_t row = get_i64(p), at = get_i64(p + 8);
        if (row <= 0 || at <= 0)
            continue;
        if (!merge(l, row, at)) {
            write_merged(l);
            merge(l, row, at);
        }
    }
    return true;
}

static void drop_connection(struct leader *l, int i)
{
    close(l->fds[i].fd);
    l->fds[i] = l->fds[--l->nfds];
}

static void accept_connections(struct leader *l)
{
    int fd;
    while ((fd = accept4(l->fds[1].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (l->nfds == 2 + CONNECTIONS_MAX)
            close(fd); /* that worker writes itself */
        else
            l->fds[l->nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
}

/* Merges the heartbeat times waiting on each connection that has messages (every connection when
 * all is set) and takes up to one reading from each into the batch; returns how many readings. A
 * request thread waits for its answer before it sends again, so the answers need no ids. */
static int receive(struct leader *l, bool all)
{
    int n = 0;
    for (int i = 2; i < l->nfds; i++) {
        if (!all && !(l->fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        for (;;) {
            unsigned char *m = l->inbox + (size_t)n * MESSAGE_MAX;
            ssize_t got = recv(l->fds[i].fd, m, MESSAGE_MAX, MSG_TRUNC | MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            if (got <= 0) {
                drop_connection(l, i--);
                break;
            }
            if (take_times(l, m, got))
                continue;
            if (got >= 2 && m[1] == KIND_READING) { /* readable or not, answered after the commit */
                l->batch[n].conn = l->fds[i].fd;
                l->batch[n++].length = (size_t)got;
                break;
            }
            /* anything else is no worker's message: dropped */
        }
    }
    return n;
}

/* Takes the batch's readings (ingest_batch(): in one transaction when the database has one
 * writer, else in one statement's) and answers each after its commit. */
static void commit_batch(struct leader *l, int n)
{
    bool begun = !l->one_writer || store_batch_begin(l->store) == STORE_OK;
    int at[CONNECTIONS_MAX]; /* each message's reading in l->items; -1: none */
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *m = l->inbox + (size_t)i * MESSAGE_MAX;
        size_t length = l->batch[i].length;
        int64_t now;
        bool proved;
        at[i] = -1;
        if (!read_reading(m, length, &now, &proved, l->ids[k]))
            continue;
        l->items[k] = (struct ingest_item){l->ids[k], (const char *)m + READING_HEAD_LEN, length - READING_HEAD_LEN,
                                           now, proved, {0}};
        at[i] = (int)k++;
    }
    if (begun)
        ingest_batch(l->store, l->config, l->items, k);
    bool committed = begun && (!l->one_writer || store_batch_commit(l->store) == STORE_OK);
    if (!committed)
        log_event("error", "readings", NULL, NULL, "%s", store_errmsg(l->store));
    for (int i = 0; i < n; i++) {
        struct ingest_result *r = &l->batch[i].result;
        *r = (struct ingest_result){.outcome = INGEST_UNREADABLE};
        if (at[i] >= 0)
            *r = begun ? l->items[at[i]].result : (struct ingest_result){.outcome = INGEST_STORE_FAILED};
        if (!committed && r->outcome == INGEST_STORED)
            r->outcome = INGEST_STORE_FAILED;
        send_answer(l->batch[i].conn, r);
    }
}

/* Stopping: no new connection, and no new message on the ones there are (their senders get
 * EPIPE and write themselves); what was sent already can still be received. */
static void stop_listening(struct leader *l)
{
    close(l->fds[1].fd);
    l->fds[1].fd = -1;
    unlink(l->addr->sun_path);
    for (int i = 2; i < l->nfds; i++)
        shutdown(l->fds[i].fd, SHUT_RD);
}

/* Waits for messages, the next write of heartbeat times or the next checkpoint; when stopped,
 * takes and answers every message already sent, writes the times, and ends. */
static void *write_loop(void *data)
{
    struct leader *l = data;
    pthread_setname_np(pthread_self(), "provd-writer"); /* for top -H, ps -L, strace */
    for (bool stopping = false; !stopping;) {
        int64_t now = now_ms(), due = l->one_writer ? l->checkpoint_due : INT64_MAX;
        if (l->n_merged > 0 && l->seen_due < due)
            due = l->seen_due;
        if (poll(l->fds, (nfds_t)l->nfds, due == INT64_MAX ? -1 : due > now ? (int)(due - now) : 0) < 0)
            continue; /* EINTR */
        stopping = l->fds[0].revents != 0;
        if (stopping)
            stop_listening(l);
        else if (l->fds[1].revents & POLLIN)
            accept_connections(l);
        for (int n; (n = receive(l, stopping)) > 0;) {
            commit_batch(l, n);
            if (!stopping)
                break;
        }
        now = now_ms();
        if (l->n_merged > 0 && (stopping || now >= l->seen_due))
            write_merged(l);
        if (l->one_writer && now >= l->checkpoint_due) {
            store_checkpoint(l->store);
            l->checkpoint_due = now_ms() + WRITER_CHECKPOINT_MS;
        }
    }
    return NULL;
}

static void leader_free(struct leader *l)
{
    for (int i = 1; i < l->nfds; i++)
        if (l->fds[i].fd >= 0)
            close(l->fds[i].fd);
    if (l->fds[1].fd >= 0)
        unlink(l->addr->sun_path);
    for (int i = 0; i < 2; i++)
        if (l->wake[i] >= 0)
            close(l->wake[i]);
    store_free(l->store);
    free(l->merged);
    free(l->inbox);
    free(l);
}

/* A non-blocking listening socket at addr, mode 0600, in place of one a dead writer left. */
static int listen_at(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(addr->sun_path);
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 || chmod(addr->sun_path, 0600) != 0 ||
        listen(fd, CONNECTIONS_MAX) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The writer's connection: a small cache, the readings' times merged, every commit synced if so
 * configured. Its commits checkpoint themselves once the WAL holds 1000 pages, whoever wrote
 * them (the loop's checkpoints every WRITER_CHECKPOINT_MS are for the other workers' commits). */
static bool open_store(struct leader *l)
{
    char err[256];
    l->store = store_open(l->config->db_path, err, sizeof err);
    if (!l->store) {
        log_event("error", "writer", NULL, NULL, "%s", err);
        return false;
    }
    store_use_server_key(l->store, l->config->server_key);
    l->one_writer = store_needs(l->store) & STORE_NEEDS_ONE_WRITER;
    if (l->one_writer) {
        store_use_small_cache(l->store);
        store_set_seen_sink(l->store, merge_seen, l);
    }
    return !l->config->sync_every_commit || store_sync_every_commit(l->store) == STORE_OK;
}

/* The thread runs with signals blocked: they stay the request threads' (libfcgi stops on SIGTERM). */
static bool start_thread(struct leader *l)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool started = pthread_create(&l->thread, NULL, write_loop, l) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

static struct leader *leader_start(const struct config *config, const struct sockaddr_un *addr)
{
    struct leader *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->config = config;
    l->addr = addr;
    l->wake[0] = l->wake[1] = -1;
    l->fds[1].fd = -1;
    l->nfds = 2;
    l->merged = malloc(MERGED_MAX * sizeof *l->merged);
    l->inbox = malloc(CONNECTIONS_MAX * MESSAGE_MAX); /* touched only as far as batches reach */
    bool ready = l->merged && l->inbox && open_store(l) && pipe2(l->wake, O_CLOEXEC) == 0 &&
                 (l->fds[1].fd = listen_at(addr)) >= 0;
    l->fds[0] = (struct pollfd){.fd = l->wake[0], .events = POLLIN};
    l->fds[1].events = POLLIN;
    l->checkpoint_due = now_ms() + WRITER_CHECKPOINT_MS;
    if (ready && start_thread(l))
        return l;
    log_event("warn", "writer", NULL, NULL, "no writer here (store, socket, pipe or thread): the worker writes itself");
    leader_free(l);
    return NULL;
}

static void leader_stop(struct leader *l)
{
    if (write(l->wake[1], "", 1) == 1)
        pthread_join(l->thread, NULL);
    leader_free(l);
}

/* ---- a worker's side ---- */

struct writer *writer_open(const struct config *config, const char *at, struct turns *turns)
{
    struct writer *w = calloc(1, sizeof *w);
    char lock_path[4096];
    if (!w)
        return NULL;
    w->config = config;
    w->turns = turns;
    w->addr.sun_family = AF_UNIX;
    int len = snprintf(w->addr.sun_path, sizeof w->addr.sun_path, "%s-writer.sock", at);
    if (len < 0 || (size_t)len >= sizeof w->addr.sun_path ||
        snprintf(lock_path, sizeof lock_path, "%s-writer.lock", at) >= (int)sizeof lock_path ||
        (w->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        free(w);
        return NULL;
    }
    for (int i = 0; i < WRITER_THREADS; i++)
        w->conn[i] = -1;
    w->times_conn = -1;
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

/* Becomes the writer if nobody is (the caller holds w->lock). */
static bool lead(struct writer *w)
{
    if (w->leader || flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return false;
    w->leader = leader_start(w->config, &w->addr);
    if (!w->leader)
        flock(w->lock_fd, LOCK_UN);
    return w->leader != NULL;
}

/* A connection to the writer, waiting at most WRITER_WAIT_MS for an answer; -1 when none. */
static int connect_writer(const struct writer *w)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct timeval wait = {WRITER_WAIT_MS / 1000, WRITER_WAIT_MS % 1000 * 1000};
    if (fd >= 0 && connect(fd, (const struct sockaddr *)&w->addr, sizeof w->addr) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Sends the queue to the writer (the caller holds w->lock); may_lead: becoming the writer first
 * if nobody is. A connection whose writer is gone is tried once more, anew. */
static bool send_times(struct writer *w, bool may_lead)
{
    unsigned char head[HEAD_LEN];
    size_t bytes = w->queued * sizeof w->queue[0];
    put_head(head, KIND_TIMES, HEAD_LEN + bytes);
    struct iovec parts[2] = {{head, HEAD_LEN}, {w->queue, bytes}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (w->times_conn < 0 && (w->times_conn = connect_writer(w)) < 0 && may_lead && lead(w))
            w->times_conn = connect_writer(w);
        if (w->times_conn < 0)
            return false;
        /* MSG_DONTWAIT: a writer that falls behind fills its socket, and the worker writes. */
        if (sendmsg(w->times_conn, &message, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)(HEAD_LEN + bytes))
            return true;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return false;
        close(w->times_conn);
        w->times_conn = -1;
    }
    return false;
}

bool writer_seen(int64_t row, int64_t at, void *writer)
{
    struct writer *w = writer;
    pthread_mutex_lock(&w->lock);
    bool taken = w->queued < WRITER_QUEUE_MAX;
    if (taken) {
        if (w->queued == 0)
            w->queued_at = now_ms();
        w->queue[w->queued++] = (struct store_seen){row, at};
    }
    pthread_mutex_unlock(&w->lock);
    return taken;
}

int writer_hand_over(struct writer *w, struct store *own)
{
    pthread_mutex_lock(&w->lock);
    int64_t now = now_ms();
    if (w->queued > 0 && (now >= w->queued_at + WRITER_GATHER_MS || w->queued >= WRITER_QUEUE_MAX * 3 / 4)) {
        if (send_times(w, true))
            w->queued = 0;
        else if (own) {
            write_times(own, w->queue, w->queued);
            w->queued = 0;
        } else {
            w->queued_at = now; /* kept: tried again a gathering later */
        }
    }
    int64_t left = w->queued_at + WRITER_GATHER_MS - now;
    int wait = w->queued == 0 ? -1 : left < 0 ? 0 : left > WRITER_GATHER_MS ? WRITER_GATHER_MS : (int)left;
    pthread_mutex_unlock(&w->lock);
    return wait;
}

/* Sends the reading (head, then body: one message) on the thread's connection and waits for its
 * answer, another request thread of the worker running meanwhile. Not answered, the connection
 * is dropped: WRITER_NOT_TAKEN when the message did not go (a connection whose writer has gone),
 * WRITER_IN_DOUBT when it went. */
static enum writer_submit hand_reading(struct writer *w, int thread, const unsigned char *head,
                                       const char *body, size_t len, struct ingest_result *r)
{
    struct iovec parts[2] = {{(void *)head, READING_HEAD_LEN}, {(void *)body, len}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
    unsigned char answer[ANSWER_LEN];
    ssize_t got = -1;
    bool sent = sendmsg(w->conn[thread], &message, MSG_NOSIGNAL) == (ssize_t)(READING_HEAD_LEN + len);
    if (sent) {
        if (w->turns)
            turns_step_aside(w->turns);
        got = recv(w->conn[thread], answer, sizeof answer, MSG_TRUNC);
        if (w->turns)
            turns_back(w->turns);
    }
    if (sent && read_answer(answer, got, r))
        return WRITER_ANSWERED;
    close(w->conn[thread]);
    w->conn[thread] = -1;
    return sent ? WRITER_IN_DOUBT : WRITER_NOT_TAKEN;
}

enum writer_submit writer_submit(struct writer *w, int thread, const char *deviceid, const char *body,
                                 size_t len, int64_t now, bool proved, struct ingest_result *r)
{
    unsigned char head[READING_HEAD_LEN] = {0};
    size_t id_len = strlen(deviceid);
    if (thread < 0 || thread >= WRITER_THREADS || len > BODY_MAX || id_len >= ID_LEN)
        return WRITER_NOT_TAKEN;
    put_head(head, KIND_READING, READING_HEAD_LEN + len);
    memcpy(head + HEAD_LEN, &now, 8);
    head[HEAD_LEN + 8] = proved;
    memcpy(head + HEAD_LEN + 9, deviceid, id_len);
    /* A connection left by a writer that stopped fails once: then connect (or lead) anew. */
    enum writer_submit outcome = WRITER_NOT_TAKEN;
    for (int attempt = 0; attempt < 2 && outcome == WRITER_NOT_TAKEN; attempt++) {
        if (w->conn[thread] < 0 && (w->conn[thread] = connect_writer(w)) < 0) {
            pthread_mutex_lock(&w->lock);
            bool leading = lead(w);
            pthread_mutex_unlock(&w->lock);
            if (!leading || (w->conn[thread] = connect_writer(w)) < 0)
                return WRITER_NOT_TAKEN;
        }
        outcome = hand_reading(w, thread, head, body, len, r);
    }
    return outcome;
}

bool writer_leads(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    bool leading = w->leader != NULL;
    pthread_mutex_unlock(&w->lock);
    return leading;
}

void writer_free(struct writer *w, struct store *own)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    /* A stopping worker does not become the writer: it would stop again at once. */
    if (w->queued > 0 && !send_times(w, false) && own)
        write_times(own, w->queue, w->queued);
    w->queued = 0;
    if (w->times_conn >= 0)
        close(w->times_conn);
    for (int i = 0; i < WRITER_THREADS; i++)
        if (w->conn[i] >= 0)
            close(w->conn[i]);
    if (w->leader)
        leader_stop(w->leader); /* takes what was sent, this worker's times too */
    pthread_mutex_unlock(&w->lock);
    close(w->lock_fd); /* frees the lock: the next worker that needs the writer becomes it */
    pthread_mutex_destroy(&w->lock);
    free(w);
}
