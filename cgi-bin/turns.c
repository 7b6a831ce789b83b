/* Turns of a worker's request threads (see turns.h): one lock, one condition, and the state
 * of the turns; a thread that only ends its run wakes nobody unless someone waits to run, so a
 * worker without step-asides makes no more system calls than with one thread. */
#include "turns.h"

#include <pthread.h>
#include <stdlib.h>

struct turns {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool running;   /* a thread runs handler code */
    bool accepting; /* a thread waits in accept() */
    bool stopping;
    int aside;    /* threads stepped aside */
    int want_run; /* threads waiting to run */
};

struct turns *turns_new(void)
{
    struct turns *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->changed, NULL);
    return t;
}

bool turns_accept(struct turns *t)
{
    pthread_mutex_lock(&t->lock);
    while (!t->stopping && (t->accepting || t->running))
        pthread_cond_wait(&t->changed, &t->lock);
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
    while (t->running || t->aside > 0)
        pthread_cond_wait(&t->changed, &t->lock);
    pthread_mutex_unlock(&t->lock);
}
