/* test_posix_timer_heap.c: devsim's timer heap against a brute-force model: the earliest
 * deadline always on top, moves and removals keeping every other timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "timer_heap.h"

#define N    500
#define NONE UINT64_MAX

static uint32_t rng_state = 12345;

static uint32_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* The model's earliest deadline (NONE if empty). */
static uint64_t model_min(const uint64_t *model)
{
    uint64_t m = NONE;
    size_t i;

    for (i = 0; i < N; i++)
        if (model[i] < m)
            m = model[i];
    return m;
}

static void test_pops_in_order(void **state)
{
    struct timer_heap *h = timer_heap_new(N);
    uint64_t last = 0, when;
    size_t i, id, popped = 0;
    int seen[N] = {0};

    (void)state;
    assert_non_null(h);
    for (i = 0; i < N; i++)
        timer_heap_set(h, i, next_rand() % 1000); /* many equal deadlines too */
    assert_int_equal(timer_heap_size(h), N);
    while (timer_heap_peek(h, &id, &when)) {
        assert_true(when >= last);
        assert_int_equal(seen[id]++, 0);
        last = when;
        timer_heap_remove(h, id);
        popped++;
    }
    assert_int_equal(popped, N);
    assert_int_equal(timer_heap_size(h), 0);
    timer_heap_free(h);
}

static void test_set_moves_and_remove_keeps_others(void **state)
{
    struct timer_heap *h = timer_heap_new(4);
    uint64_t when;
    size_t id;

    (void)state;
    timer_heap_set(h, 0, 50);
    timer_heap_set(h, 1, 20);
    timer_heap_set(h, 2, 30);
    timer_heap_set(h, 1, 60); /* later: 2 comes first now */
    assert_true(timer_heap_peek(h, &id, &when));
    assert_int_equal(id, 2);
    assert_int_equal(when, 30);
    timer_heap_set(h, 0, 10); /* earlier */
    assert_true(timer_heap_peek(h, &id, &when));
    assert_int_equal(id, 0);
    assert_int_equal(timer_heap_size(h), 3);
    timer_heap_remove(h, 3); /* not scheduled: nothing happens */
    timer_heap_remove(h, 0);
    assert_true(timer_heap_peek(h, &id, &when));
    assert_int_equal(id, 2);
    timer_heap_remove(h, 2);
    timer_heap_remove(h, 2);
    assert_true(timer_heap_peek(h, &id, &when));
    assert_int_equal(id, 1);
    assert_int_equal(when, 60);
    timer_heap_remove(h, 1);
    assert_false(timer_heap_peek(h, &id, &when));
    timer_heap_free(h);
}

/* Random sets, moves and removals; after each, the top is the model's minimum. */
static void test_random_against_model(void **state)
{
    struct timer_heap *h = timer_heap_new(N);
    uint64_t model[N], when;
    size_t i, id, count = 0;

    (void)state;
    for (i = 0; i < N; i++)
        model[i] = NONE;
    for (i = 0; i < 20000; i++) {
        size_t k = next_rand() % N;

        if (next_rand() % 3 == 0) {
            timer_heap_remove(h, k);
            count -= model[k] != NONE;
            model[k] = NONE;
        } else {
            count += model[k] == NONE;
            model[k] = next_rand() % 100000;
            timer_heap_set(h, k, model[k]);
        }
        assert_int_equal(timer_heap_size(h), count);
        if (count == 0) {
            assert_false(timer_heap_peek(h, &id, &when));
            continue;
        }
        assert_true(timer_heap_peek(h, &id, &when));
        assert_int_equal(when, model_min(model));
        assert_int_equal(model[id], when);
    }
    timer_heap_free(h);
}

static void test_zero_capacity(void **state)
{
    (void)state;
    assert_null(timer_heap_new(0));
    timer_heap_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_order),
        cmocka_unit_test(test_set_moves_and_remove_keeps_others),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_zero_capacity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
