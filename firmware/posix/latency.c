/* latency.c: bucket index = (power of two, top five bits below the leading one), the layout of
 * HdrHistogram with five significant bits. */
#include "latency.h"

#include <string.h>

static unsigned top_bit(uint64_t v)
{
    unsigned b = 0;

    while (v >>= 1)
        b++;
    return b;
}

static unsigned bucket_of(uint64_t us)
{
    unsigned exp;

    if (us < LATENCY_SUB)
        return (unsigned)us;
    exp = top_bit(us) - 5; /* us >= 32: the leading bit is bit 5 or higher */
    if (exp >= 32)
        return LATENCY_BUCKETS - 1;
    return LATENCY_SUB + exp * LATENCY_SUB + (unsigned)((us >> exp) & (LATENCY_SUB - 1));
}

/* The largest value that lands in bucket b. */
static uint64_t bucket_top(unsigned b)
{
    unsigned exp;

    if (b < LATENCY_SUB)
        return b;
    exp = (b - LATENCY_SUB) / LATENCY_SUB;
    return ((uint64_t)(LATENCY_SUB + (b - LATENCY_SUB) % LATENCY_SUB + 1) << exp) - 1;
}

void latency_reset(struct latency *l)
{
    memset(l, 0, sizeof *l);
}

void latency_add(struct latency *l, uint64_t us)
{
    l->buckets[bucket_of(us)]++;
    l->count++;
}

uint64_t latency_percentile(const struct latency *l, unsigned permille)
{
    uint64_t rank, seen = 0;
    unsigned b;

    if (l->count == 0)
        return 0;
    /* The sample at this rank (1-based, rounded up) is the percentile. */
    rank = (l->count * permille + 999) / 1000;
    if (rank == 0)
        rank = 1;
    for (b = 0; b < LATENCY_BUCKETS; b++) {
        seen += l->buckets[b];
        if (seen >= rank)
            return bucket_top(b);
    }
    return bucket_top(LATENCY_BUCKETS - 1);
}
