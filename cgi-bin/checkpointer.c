/* The checkpointer (see checkpointer.h): a flag under a lock, and a thread that runs
 * store_checkpoint() each time it finds the flag set. Asks while it runs collapse into one. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "checkpointer.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_sqlite.h"

struct checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t woken;
    bool wanted;      /* a commit asked for a checkpoint since the last one began */
    int asked_at;     /* the WAL's pages then */
    int last_started; /* the WAL's pages when the last checkpoint began */
    bool stopping;
    struct store *store;
};

static void *checkpoint_loop(void *data)
{
    struct checkpointer *c = data;
    pthread_setname_np(pthread_self(), "provd-ckpt"); /* for top -H, ps -L, strace */
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->woken, &c->lock);
        if (!c->wanted)
            break;
        c->wanted = false;
        c->last_started = c->asked_at;
        pthread_mutex_unlock(&c->lock);
        store_checkpoint(c->store);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* The thread runs with signals blocked: they stay the main thread's (libfcgi stops on SIGTERM). */
static bool start_thread(struct checkpointer *c)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool started = pthread_create(&c->thread, NULL, checkpoint_loop, c) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

struct checkpointer *checkpointer_start(const char *db_path, char *err, size_t err_len)
{
    struct checkpointer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->woken, NULL);
    c->store = store_open(db_path, err, err_len);
    if (c->store && start_thread(c))
        return c;
    if (c->store)
        snprintf(err, err_len, "cannot start the checkpoint thread");
    store_free(c->store);
    free(c);
    return NULL;
}

void checkpointer_wake(int wal_pages, void *checkpointer)
{
    struct checkpointer *c = checkpointer;
    pthread_mutex_lock(&c->lock);
    if (wal_pages < c->last_started)
        c->last_started = 0; /* the WAL was started over */
    if (!c->wanted && wal_pages >= c->last_started + CHECKPOINTER_STEP_PAGES) {
        c->wanted = true;
        c->asked_at = wal_pages;
        pthread_cond_signal(&c->woken);
    }
    pthread_mutex_unlock(&c->lock);
}

void checkpointer_stop(struct checkpointer *c)
{
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->woken);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    store_free(c->store);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->woken);
    free(c);
}
