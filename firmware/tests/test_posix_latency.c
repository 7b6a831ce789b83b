/* test_posix_latency.c: devsim's latency histogram: exact below 32 us, within its bucket
 * width (1/32) above, percentiles by rank, huge values kept in the last bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "latency.h"

static struct latency l;

static void test_empty(void **state)
{
    (void)state;
    latency_reset(&l);
    assert_int_equal(latency_percentile(&l, 500), 0);
    assert_int_equal(latency_percentile(&l, 1000), 0);
}

static void test_small_values_exact(void **state)
{
    uint64_t v;

    (void)state;
    latency_reset(&l);
    for (v = 1; v <= 20; v++)
        latency_add(&l, v);
    assert_int_equal(l.count, 20);
    assert_int_equal(latency_percentile(&l, 500), 10);
    assert_int_equal(latency_percentile(&l, 1000), 20);
    assert_int_equal(latency_percentile(&l, 1), 1);
}

/* Uniform 1..100000 us: p50 and p99 within one bucket (1/32) above the true value. */
static void test_uniform_percentiles(void **state)
{
    uint64_t v, p50, p99, top;

    (void)state;
    latency_reset(&l);
    for (v = 1; v <= 100000; v++)
        latency_add(&l, v);
    p50 = latency_percentile(&l, 500);
    p99 = latency_percentile(&l, 990);
    top = latency_percentile(&l, 1000);
    assert_true(p50 >= 50000 && p50 <= 50000 + 50000 / 32);
    assert_true(p99 >= 99000 && p99 <= 99000 + 99000 / 32);
    assert_true(top >= 100000 && top <= 100000 + 100000 / 32);
}

/* Every value's percentile-1000 alone is its bucket's top: never below it, at most 1/32 above. */
static void test_bucket_edges(void **state)
{
    uint64_t v;

    (void)state;
    for (v = 1; v < (UINT64_C(1) << 36); v = v * 3 / 2 + 1) {
        uint64_t top;

        latency_reset(&l);
        latency_add(&l, v);
        top = latency_percentile(&l, 1000);
        assert_true(top >= v);
        assert_true(top - v <= v / 32);
    }
}

static void test_huge_values_clamped(void **state)
{
    (void)state;
    latency_reset(&l);
    latency_add(&l, UINT64_MAX);
    latency_add(&l, UINT64_C(1) << 50);
    assert_int_equal(l.count, 2);
    assert_int_equal(l.buckets[LATENCY_BUCKETS - 1], 2);
    assert_true(latency_percentile(&l, 500) >= (UINT64_C(1) << 36));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_uniform_percentiles),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_huge_values_clamped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
