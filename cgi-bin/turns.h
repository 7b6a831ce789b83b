/* The request threads of one worker take turns. One thread at a time runs handler code (the
 * worker's database connection and state are not shared between threads), one at a time
 * waits in accept(), and the others sleep. A running thread that is about to wait for the
 * writer's answer to a reading (writer.h) steps aside, so that the worker takes the next
 * request meanwhile, a reading too, which then joins the same batch of the writer's (why,
 * measured: bench/README.md, "Two request threads per worker"). A worker whose
 * threads never step aside (heartbeats, lists) runs as if it had one thread: the others stay asleep, so the
 * cores are not shared by more runnable workers than before. */
#ifndef PROVD_TURNS_H
#define PROVD_TURNS_H

#include <stdbool.h>

struct turns;

/* NULL when out of memory. Lives as long as the worker (threads may sleep in it at exit). */
struct turns *turns_new(void);
/* Work for a thread that waits its turn to accept (another is in accept(), so the worker is
 * idle or nearly): idle(data) runs when the wait it asked for last has passed and no thread runs
 * handler code, which none does meanwhile (so it may use the worker's connection); it returns
 * the ms until it wants to run again (-1: nothing to do; it is asked again after
 * TURNS_IDLE_MS). Set before the threads start. */
#define TURNS_IDLE_MS 100
typedef int (*turns_idle_fn)(void *data);
void turns_set_idle(struct turns *t, turns_idle_fn idle, void *data);

/* Waits until this thread may accept the next request; false once the worker stops. */
bool turns_accept(struct turns *t);
/* Ends this thread's accept turn (it has a request) and waits until it may run it. */
void turns_accepted(struct turns *t);
/* Ends this thread's run. */
void turns_done(struct turns *t);
/* The running thread is about to block on something outside the worker: another may run and
 * accept meanwhile. It calls turns_back() when it returns. */
void turns_step_aside(struct turns *t);
/* Waits until the thread that stepped aside may run again. */
void turns_back(struct turns *t);
/* The worker stops: waits until no thread runs, is stepped aside or does the idle work, then
 * lets none run, accept or do idle work again (those waiting to run sleep until the worker exits). */
void turns_stop(struct turns *t);

#endif
