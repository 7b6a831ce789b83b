/* latency.h: a log-linear histogram of request latencies in microseconds (about 3% resolution
 * from 32 us to hours), for p50/p99 without keeping every sample. */
#ifndef LATENCY_H
#define LATENCY_H

#include <stdint.h>

/* 32 exact buckets below 32 us, then 32 per power of two up to 2^37 us. */
#define LATENCY_SUB     32
#define LATENCY_BUCKETS (LATENCY_SUB + 32 * LATENCY_SUB)

struct latency {
    uint64_t count;
    uint64_t buckets[LATENCY_BUCKETS];
};

void latency_reset(struct latency *l);
void latency_add(struct latency *l, uint64_t us);
/* The value below which `permille` per mille of the samples fall (the upper edge of the
 * bucket holding that rank); 0 when empty. permille: 1..1000. */
uint64_t latency_percentile(const struct latency *l, unsigned permille);

#endif
