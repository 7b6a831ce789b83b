/* Heartbeat times in batches (see lastseen.h). The thread runs as long as the worker: a crash
 * or kill -9 loses at most the heartbeat times of the last LASTSEEN_GATHER_MS (and, in the
 * pool's writer, of the last LASTSEEN_WRITE_MS), nothing else: configurations, cfgsn_applied,
 * registrations and readings are never queued here (the readings committer only borrows the
 * connection, and commits each batch before it answers). */
#define _GNU_SOURCE /* pthread_setname_np */
#include "lastseen.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seen_pool.h"
#include "seen_set.h"

#define MERGED_MAX (2 * LASTSEEN_QUEUE_MAX) /* the writer's merge of all batches; written once full */

struct lastseen {
    pthread_mutex_t lock;
    pthread_mutex_t store_lock; /* the connection's user: this thread or the readings committer */
    pthread_cond_t queued;
    pthread_t thread;
    struct seen_set *queue[2];
    int filling;   /* the queue heartbeats add to; the thread hands over the other */
    bool stopping; /* these three under lock */
    bool leading;
    struct store *store;     /* the thread's own connection (see lastseen_lock_store) */
    struct seen_pool *pool;  /* NULL: no pool here, every batch is written by its worker */
    struct seen_set *merged; /* the writer's: every worker's batches since its last write */
    struct store_seen inbox[LASTSEEN_QUEUE_MAX];
};

bool lastseen_queue(int64_t row, int64_t at, void *data)
{
    struct lastseen *ls = data;
    pthread_mutex_lock(&ls->lock);
    struct seen_set *q = ls->queue[ls->filling];
    bool taken = seen_set_put(q, row, at);
    if (taken && seen_set_count(q) == 1)
        pthread_cond_signal(&ls->queued);
    pthread_mutex_unlock(&ls->lock);
    return taken;
}

bool lastseen_leads(struct lastseen *ls)
{
    pthread_mutex_lock(&ls->lock);
    bool leading = ls->leading;
    pthread_mutex_unlock(&ls->lock);
    return leading;
}

static int64_t monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct store *lastseen_lock_store(struct lastseen *ls)
{
    pthread_mutex_lock(&ls->store_lock);
    return ls->store;
}

void lastseen_unlock_store(struct lastseen *ls)
{
    pthread_mutex_unlock(&ls->store_lock);
}

/* Writes the set in one transaction, in row order, and empties it. */
static void write_set(struct lastseen *ls, struct seen_set *set)
{
    size_t n = seen_set_count(set);
    struct store *store = lastseen_lock_store(ls);
    if (n > 0 && store_device_seen(store, seen_set_sorted(set), n) != STORE_OK)
        fprintf(stderr, "provd: heartbeat times: %s\n", store_errmsg(store));
    lastseen_unlock_store(ls);
    seen_set_clear(set);
}

static void merge(struct lastseen *ls, const struct store_seen *seen, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!seen_set_put(ls->merged, seen[i].row, seen[i].at)) {
            write_set(ls, ls->merged);
            seen_set_put(ls->merged, seen[i].row, seen[i].at);
        }
    }
}

/* The pool's writer takes its own batch and every one waiting on the socket, and writes them
 * all when due (or when stopping); any other worker sends its batch, or writes it itself when
 * no writer takes it. A stopping worker does not become the writer. */
static void hand_over(struct lastseen *ls, struct seen_set *batch, bool stopping, int64_t *next_write)
{
    bool leading = ls->pool && (ls->leading || !stopping) && seen_pool_lead(ls->pool);
    pthread_mutex_lock(&ls->lock);
    ls->leading = leading;
    pthread_mutex_unlock(&ls->lock);
    size_t n = seen_set_count(batch);
    if (leading) {
        if (stopping) /* nothing sent from now on is lost in the socket as it closes */
            seen_pool_resign(ls->pool);
        merge(ls, seen_set_entries(batch), n);
        size_t got;
        while ((got = seen_pool_receive(ls->pool, ls->inbox, LASTSEEN_QUEUE_MAX)) > 0)
            merge(ls, ls->inbox, got);
        if (stopping || monotonic_ms() >= *next_write) {
            write_set(ls, ls->merged);
            *next_write = monotonic_ms() + LASTSEEN_WRITE_MS;
        }
    } else if (n > 0 && !(ls->pool && seen_pool_send(ls->pool, seen_set_entries(batch), n))) {
        write_set(ls, batch);
    }
    seen_set_clear(batch);
}

/* Waits for a first heartbeat (the writer does not: other workers' batches come to it), lets
 * more gather for LASTSEEN_GATHER_MS, hands the queue over. */
static void *hand_over_loop(void *data)
{
    struct lastseen *ls = data;
    const struct timespec gather = {0, LASTSEEN_GATHER_MS * 1000000L};
    int64_t next_write = 0;
    bool stopping = false;
    pthread_setname_np(pthread_self(), "provd-seen");
    while (!stopping) {
        pthread_mutex_lock(&ls->lock);
        while (!ls->stopping && !ls->leading && seen_set_count(ls->queue[ls->filling]) == 0)
            pthread_cond_wait(&ls->queued, &ls->lock);
        stopping = ls->stopping;
        pthread_mutex_unlock(&ls->lock);
        if (!stopping)
            nanosleep(&gather, NULL);

        pthread_mutex_lock(&ls->lock);
        struct seen_set *batch = ls->queue[ls->filling];
        ls->filling = !ls->filling;
        stopping = ls->stopping;
        pthread_mutex_unlock(&ls->lock);
        hand_over(ls, batch, stopping, &next_write);
    }
    return NULL;
}

static void free_parts(struct lastseen *ls)
{
    seen_pool_free(ls->pool);
    store_free(ls->store);
    seen_set_free(ls->queue[0]);
    seen_set_free(ls->queue[1]);
    seen_set_free(ls->merged);
    pthread_cond_destroy(&ls->queued);
    pthread_mutex_destroy(&ls->store_lock);
    pthread_mutex_destroy(&ls->lock);
    free(ls);
}

struct lastseen *lastseen_start(const char *db_path, char *err, size_t err_len)
{
    struct lastseen *ls = calloc(1, sizeof *ls);
    if (!ls) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&ls->lock, NULL);
    pthread_mutex_init(&ls->store_lock, NULL);
    pthread_cond_init(&ls->queued, NULL);
    ls->queue[0] = seen_set_new(LASTSEEN_QUEUE_MAX);
    ls->queue[1] = seen_set_new(LASTSEEN_QUEUE_MAX);
    ls->merged = seen_set_new(MERGED_MAX);
    if (!ls->queue[0] || !ls->queue[1] || !ls->merged) {
        snprintf(err, err_len, "out of memory");
        free_parts(ls);
        return NULL;
    }
    ls->pool = seen_pool_open(db_path);
    ls->store = store_open(db_path, err, err_len);
    if (ls->store) { /* the readings committer's readings queue their lastseen like heartbeats */
        store_set_seen_sink(ls->store, lastseen_queue, ls);
        store_use_small_cache(ls->store);
    }
    int rc = ls->store ? pthread_create(&ls->thread, NULL, hand_over_loop, ls) : -1;
    if (rc != 0) {
        if (rc > 0)
            snprintf(err, err_len, "cannot start the heartbeat writer: %s", strerror(rc));
        free_parts(ls);
        return NULL;
    }
    return ls;
}

void lastseen_stop(struct lastseen *ls)
{
    pthread_mutex_lock(&ls->lock);
    ls->stopping = true;
    pthread_cond_signal(&ls->queued);
    pthread_mutex_unlock(&ls->lock);
    pthread_join(ls->thread, NULL);
    free_parts(ls);
}
