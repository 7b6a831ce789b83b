/* Heartbeat times in batches (see lastseen.h). The thread runs as long as the worker: a crash
 * or kill -9 loses at most the last LASTSEEN_FLUSH_MS of heartbeat times, nothing else
 * (configurations, cfgsn_applied, registrations and readings never pass through here). */
#include "lastseen.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX 4096            /* heartbeats per flush; beyond, a heartbeat writes its own */
#define SLOTS     (2 * QUEUE_MAX) /* open-addressing index over the queue: one entry per device */

struct lastseen {
    pthread_mutex_t lock;
    pthread_cond_t queued;
    struct store *store; /* the thread's own connection */
    struct store_seen queue[2][QUEUE_MAX];
    int filling; /* the queue heartbeats add to; the thread writes the other */
    size_t count;
    uint16_t slot[SLOTS]; /* 1 + index into queue[filling], 0: free */
};

/* Rows are dense integers: a multiplicative hash spreads neighbours over the slots. */
static uint32_t slot_of(int64_t row)
{
    return (uint32_t)(((uint64_t)row * UINT64_C(0x9E3779B97F4A7C15)) >> 32) % SLOTS;
}

bool lastseen_queue(int64_t row, int64_t at, void *data)
{
    struct lastseen *ls = data;
    bool taken = true;
    pthread_mutex_lock(&ls->lock);
    struct store_seen *q = ls->queue[ls->filling];
    uint32_t i = slot_of(row);
    while (ls->slot[i] && q[ls->slot[i] - 1].row != row)
        i = (i + 1) % SLOTS;
    if (ls->slot[i]) {
        struct store_seen *e = &q[ls->slot[i] - 1];
        if (e->at < at)
            e->at = at;
    } else if (ls->count < QUEUE_MAX) {
        struct store_seen *e = &q[ls->count++];
        e->row = row;
        e->at = at;
        ls->slot[i] = (uint16_t)ls->count;
        if (ls->count == 1)
            pthread_cond_signal(&ls->queued);
    } else {
        taken = false;
    }
    pthread_mutex_unlock(&ls->lock);
    return taken;
}

static int by_row(const void *a, const void *b)
{
    int64_t x = ((const struct store_seen *)a)->row, y = ((const struct store_seen *)b)->row;
    return (x > y) - (x < y);
}

/* Waits for a first heartbeat, lets more gather for LASTSEEN_FLUSH_MS, writes them all, in row
 * order: rows that share a page are written together, and the tree's upper pages stay cached. */
static void *flush_loop(void *data)
{
    struct lastseen *ls = data;
    const struct timespec gather = {0, LASTSEEN_FLUSH_MS * 1000000L};
    for (;;) {
        pthread_mutex_lock(&ls->lock);
        while (ls->count == 0)
            pthread_cond_wait(&ls->queued, &ls->lock);
        pthread_mutex_unlock(&ls->lock);
        nanosleep(&gather, NULL);

        pthread_mutex_lock(&ls->lock);
        struct store_seen *batch = ls->queue[ls->filling];
        size_t n = ls->count;
        ls->filling = !ls->filling;
        ls->count = 0;
        memset(ls->slot, 0, sizeof ls->slot);
        pthread_mutex_unlock(&ls->lock);
        qsort(batch, n, sizeof *batch, by_row);
        if (store_device_seen(ls->store, batch, n) != STORE_OK)
            fprintf(stderr, "provd: heartbeat times: %s\n", store_errmsg(ls->store));
    }
    return NULL;
}

struct lastseen *lastseen_start(const char *db_path, char *err, size_t err_len)
{
    struct lastseen *ls = calloc(1, sizeof *ls);
    if (!ls) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&ls->lock, NULL);
    pthread_cond_init(&ls->queued, NULL);
    ls->store = store_open(db_path, err, err_len);
    pthread_t thread;
    int rc = ls->store ? pthread_create(&thread, NULL, flush_loop, ls) : -1;
    if (rc != 0) {
        if (rc > 0)
            snprintf(err, err_len, "cannot start the heartbeat writer: %s", strerror(rc));
        store_free(ls->store);
        free(ls);
        return NULL;
    }
    pthread_detach(thread);
    return ls;
}
