/* turns: one request thread runs at a time; a second sleeps while the first takes every turn and
 * accepts only when the first steps aside; a thread back from aside waits for the runner; a stop
 * waits for the runner and ends the turns. Helper threads only record what happened: cmocka's
 * assertions run in the test's own thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "testlib.h"
#include "turns.h"

/* Long enough for a woken thread to run on a busy machine; only waits that must end use it. */
#define SETTLE_MS   200
#define DEADLINE_MS 5000

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, ms % 1000 * 1000000L};
    nanosleep(&pause, NULL);
}

/* Waits up to DEADLINE_MS for the flag; true once it is set. */
static bool eventually(atomic_bool *flag)
{
    for (int waited = 0; waited < DEADLINE_MS && !atomic_load(flag); waited++)
        sleep_ms(1);
    return atomic_load(flag);
}

/* A worker's turns live as long as it does (threads may sleep in them at exit): kept reachable
 * here, the test's are no leak either. */
static struct turns *kept[16];
static size_t n_kept;

static struct turns *new_turns(void)
{
    struct turns *t = turns_new();
    assert_non_null(t);
    assert_true(n_kept < sizeof kept / sizeof kept[0]);
    kept[n_kept++] = t;
    return t;
}

static void run_one_request(struct turns *t)
{
    assert_true(turns_accept(t));
    turns_accepted(t);
    turns_done(t);
}

/* A thread alone takes turn after turn without waiting for anyone. */
static void one_thread_takes_every_turn(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    for (int i = 0; i < 100; i++)
        run_one_request(t);
}

struct waiter {
    struct turns *t;
    atomic_bool returned;
    bool result;
};

static void *accept_once(void *data)
{
    struct waiter *w = data;
    w->result = turns_accept(w->t);
    atomic_store(&w->returned, true);
    return NULL;
}

static void *come_back(void *data)
{
    struct waiter *w = data;
    turns_back(w->t);
    atomic_store(&w->returned, true);
    return NULL;
}

static void *stop(void *data)
{
    struct waiter *w = data;
    turns_stop(w->t);
    atomic_store(&w->returned, true);
    return NULL;
}

/* The running thread here: another thread doing call waits until its run is done, not longer. */
static void waits_for_the_runner(struct turns *t, void *(*call)(void *))
{
    struct waiter other = {.t = t};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, call, &other), 0);
    sleep_ms(SETTLE_MS);
    assert_false(atomic_load(&other.returned));
    turns_done(t);
    assert_true(eventually(&other.returned));
    pthread_join(thread, NULL);
}

/* The second thread sleeps while the first runs request after request (heartbeats: no more
 * runnable threads than with one), and accepts as soon as the first steps aside. */
static void second_thread_accepts_only_when_the_first_steps_aside(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    run_one_request(t);
    assert_true(turns_accept(t));
    turns_accepted(t);
    struct waiter second = {.t = t};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, accept_once, &second), 0);
    sleep_ms(SETTLE_MS); /* it asks for a turn while the first runs, and sleeps */
    turns_done(t);
    for (int i = 0; i < 20; i++)
        run_one_request(t);
    sleep_ms(SETTLE_MS);
    assert_false(atomic_load(&second.returned));

    assert_true(turns_accept(t));
    turns_accepted(t);
    turns_step_aside(t); /* waits for the writer: the second thread takes the next request */
    assert_true(eventually(&second.returned));
    assert_true(second.result);
    pthread_join(thread, NULL);
}

/* Back from aside, a thread waits until the one running now is done. */
static void back_from_aside_waits_for_the_runner(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    assert_true(turns_accept(t));
    turns_accepted(t);
    turns_step_aside(t);
    assert_true(turns_accept(t)); /* the other thread's turn, taken here */
    turns_accepted(t);
    waits_for_the_runner(t, come_back);
    turns_done(t); /* the first thread's run, back from aside */
    run_one_request(t);
}

#define RUNS 900

/* Static: threads left asleep in the turns at the end still point at it. */
static struct crowd {
    struct turns *t;
    atomic_int budget; /* requests left to take */
    atomic_int running;
    atomic_int most_running;
    atomic_int runs;
} crowd;

/* Requests while the crowd's budget lasts, every third stepping aside mid-run as a reading
 * would. Like a worker's threads, a thread takes turns until there is no work left: only then
 * may it leave, since the others may sleep in turns_accept() behind it (one that ends its run
 * wakes nobody: it accepts the next request itself). */
static void *run_requests(void *data)
{
    struct crowd *c = data;
    while (atomic_load(&c->budget) > 0 && turns_accept(c->t)) {
        turns_accepted(c->t);
        int request = atomic_fetch_sub(&c->budget, 1);
        if (request <= 0) {
            turns_done(c->t);
            break;
        }
        int now = atomic_fetch_add(&c->running, 1) + 1;
        int most = atomic_load(&c->most_running);
        while (now > most && !atomic_compare_exchange_weak(&c->most_running, &most, now)) {
        }
        if (request % 3 == 0) {
            atomic_fetch_sub(&c->running, 1);
            turns_step_aside(c->t);
            sched_yield();
            turns_back(c->t);
            atomic_fetch_add(&c->running, 1);
        }
        atomic_fetch_sub(&c->running, 1);
        atomic_fetch_add(&c->runs, 1);
        turns_done(c->t);
    }
    return NULL;
}

/* Three threads, hundreds of turns: never two running at once, every request run. Threads
 * still asleep when the work is done stay so (as in a worker until it stops): not joined. */
static void never_two_run_at_once(void **state)
{
    (void)state;
    crowd.t = new_turns();
    atomic_store(&crowd.budget, RUNS);
    for (int i = 0; i < 3; i++) {
        pthread_t thread;
        assert_int_equal(pthread_create(&thread, NULL, run_requests, &crowd), 0);
        pthread_detach(thread);
    }
    for (int waited = 0; waited < DEADLINE_MS && atomic_load(&crowd.runs) < RUNS; waited++)
        sleep_ms(1);
    assert_int_equal(atomic_load(&crowd.runs), RUNS);
    assert_int_equal(atomic_load(&crowd.most_running), 1);
}

/* A stop waits for the running thread; then no thread accepts or runs again. */
static void stop_waits_for_the_runner_then_ends_the_turns(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    assert_true(turns_accept(t));
    turns_accepted(t);
    waits_for_the_runner(t, stop);
    assert_false(turns_accept(t));
}

static atomic_int idle_calls;

static int count_idle(void *data)
{
    (void)data;
    atomic_fetch_add(&idle_calls, 1);
    return 10;
}

/* The thread that waits its turn to accept while another is in accept() does the idle work, as
 * often as the work asks; nobody does it while no thread waits so. */
static void a_thread_waiting_to_accept_does_the_idle_work(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    turns_set_idle(t, count_idle, NULL);
    assert_true(turns_accept(t)); /* this thread is "in accept()" */
    struct waiter second = {.t = t};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, accept_once, &second), 0);
    sleep_ms(TURNS_IDLE_MS + 3 * SETTLE_MS);
    assert_true(atomic_load(&idle_calls) >= 3); /* the first after TURNS_IDLE_MS, then every 10 ms */
    assert_false(atomic_load(&second.returned));
    turns_accepted(t);
    turns_done(t);
    assert_true(eventually(&second.returned)); /* it accepts now */
    pthread_join(thread, NULL);
    int calls = atomic_load(&idle_calls);
    sleep_ms(TURNS_IDLE_MS + SETTLE_MS);
    assert_int_equal(atomic_load(&idle_calls), calls);
}

static atomic_bool slow_started, slow_finished;

static int slow_idle(void *data)
{
    (void)data;
    atomic_store(&slow_started, true);
    sleep_ms(SETTLE_MS);
    atomic_store(&slow_finished, true);
    return -1;
}

/* A stop waits for idle work under way (the worker frees what it works on next). */
static void stop_waits_for_the_idle_work(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    turns_set_idle(t, slow_idle, NULL);
    assert_true(turns_accept(t));
    struct waiter second = {.t = t};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, accept_once, &second), 0);
    assert_true(eventually(&slow_started));
    turns_stop(t);
    assert_true(atomic_load(&slow_finished));
    assert_true(eventually(&second.returned));
    assert_false(second.result);
    pthread_join(thread, NULL);
}

/* The idle work may use the worker's connection: a thread waiting while another runs a long
 * request does none. */
static void idle_work_never_runs_beside_a_runner(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    turns_set_idle(t, count_idle, NULL);
    atomic_store(&idle_calls, 0);
    assert_true(turns_accept(t));
    turns_accepted(t); /* this thread runs */
    struct waiter second = {.t = t};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, accept_once, &second), 0);
    sleep_ms(TURNS_IDLE_MS + SETTLE_MS);
    assert_int_equal(atomic_load(&idle_calls), 0);
    assert_false(atomic_load(&second.returned));
    turns_done(t);
    assert_true(eventually(&second.returned));
    pthread_join(thread, NULL);
}

/* A thread with a request to run waits until the idle work under way is done. */
static void a_runner_waits_for_the_idle_work(void **state)
{
    (void)state;
    struct turns *t = new_turns();
    turns_set_idle(t, slow_idle, NULL);
    atomic_store(&slow_started, false);
    atomic_store(&slow_finished, false);
    assert_true(turns_accept(t));
    struct waiter second = {.t = t};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, accept_once, &second), 0);
    assert_true(eventually(&slow_started));
    turns_accepted(t);
    assert_true(atomic_load(&slow_finished));
    turns_done(t);
    assert_true(eventually(&second.returned));
    turns_stop(t);
    pthread_join(thread, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_thread_takes_every_turn),
        cmocka_unit_test(second_thread_accepts_only_when_the_first_steps_aside),
        cmocka_unit_test(back_from_aside_waits_for_the_runner),
        cmocka_unit_test(never_two_run_at_once),
        cmocka_unit_test(stop_waits_for_the_runner_then_ends_the_turns),
        cmocka_unit_test(a_thread_waiting_to_accept_does_the_idle_work),
        cmocka_unit_test(stop_waits_for_the_idle_work),
        cmocka_unit_test(idle_work_never_runs_beside_a_runner),
        cmocka_unit_test(a_runner_waits_for_the_idle_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
