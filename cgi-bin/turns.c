/* Turns of a worker's request threads (see turns.h): one lock, one condition, and the state
 * of the turns; a thread that only ends its run wakes nobody unless someone waits to run, so a
 * worker without step-asides makes no more system calls than with one thread. */
#include "turns.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct turns {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool running;   /* a thread runs handler code */
    bool accepting; /* a thread waits in accept() */
    bool stopping;
    int aside;    /* threads stepped aside */
    int want_run; /* threads waiting to run */
    int idling;   /* threads doing the idle work */
    turns_idle_fn idle;
    void *idle_data;
};

struct turns *turns_new(void)
{
    struct turns *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->changed, &monotonic);
    pthread_condattr_destroy(&monotonic);
    return t;
}

void turns_set_idle(struct turns *t, turns_idle_fn idle, void *data)
{
    t->idle = idle;
    t->idle_data = data;
}

/* With the lock held: waits for a change, running the idle work when it is due. */
static void wait_idle(struct turns *t, int *wait_ms)
{
    if (!t->idle) {
        pthread_cond_wait(&t->changed, &t->lock);
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long ns = until.tv_nsec + (long)(*wait_ms % 1000) * 1000000L;
    until.tv_sec += *wait_ms / 1000 + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    if (pthread_cond_timedwait(&t->changed, &t->lock, &until) != ETIMEDOUT || t->stopping || t->running)
        return;
    t->running = true; /* in the idle work's place nobody runs handler code */
    t->idling++;       /* turns_stop() waits for it: the work's data may go once the worker stops */
    pthread_mutex_unlock(&t->lock);
    int next = t->idle(t->idle_data);
    pthread_mutex_lock(&t->lock);
    t->running = false;
    if (--t->idling == 0 && t->stopping)
        pthread_cond_broadcast(&t->changed);
    else if (t->want_run > 0)
        pthread_cond_broadcast(&t->changed);
    *wait_ms = next > 0 && next < TURNS_IDLE_MS ? next : TURNS_IDLE_MS;
}

bool turns_accept(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    int wait_ms = TURNS_IDLE_MS;
    while (!t->stopping && (t->accepting || t->running))
        wait_idle(t, &wait_ms);
    t->accepting = !t->stopping;
    bool go = t->accepting;
    pthread_mutex_unlock(&t->lock);
    return go;
}

/* With the lock held. After turns_stop(), nobody runs again. */
static void wait_to_run(struct turns *t)
{
    t->want_run++;
    while (t->running || t->stopping)
        pthread_cond_wait(&t->changed, &t->lock);
    t->want_run--;
    t->running = true;
}

void turns_accepted(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    t->accepting = false;
    wait_to_run(t);
    pthread_mutex_unlock(&t->lock);
}

void turns_done(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    t->running = false;
    if (t->want_run > 0 || t->stopping)
        pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
}

void turns_step_aside(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    t->running = false;
    t->aside++;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
}

void turns_back(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    t->aside--;
    if (t->stopping)
        pthread_cond_broadcast(&t->changed);
    wait_to_run(t);
    pthread_mutex_unlock(&t->lock);
}

void turns_stop(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    t->accepting = false;
    pthread_cond_broadcast(&t->changed);
    while (t->running || t->aside > 0 || t->idling > 0)
        pthread_cond_wait(&t->changed, &t->lock);
    pthread_mutex_unlock(&t->lock);
}
