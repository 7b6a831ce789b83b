/* timer_heap.h: a binary min-heap of (deadline, id) for ids 0..capacity-1, each at most once, so
 * an event loop finds the next simulated device to step in O(1) and reschedules it in O(log n). */
#ifndef TIMER_HEAP_H
#define TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer_heap;

/* NULL without memory or for a capacity of 0. */
struct timer_heap *timer_heap_new(size_t capacity);
void timer_heap_free(struct timer_heap *h);

/* Schedules id at `when`, moving it if it is already scheduled. id must be below the capacity. */
void timer_heap_set(struct timer_heap *h, size_t id, uint64_t when);
/* Unschedules id (nothing happens if it is not scheduled). */
void timer_heap_remove(struct timer_heap *h, size_t id);
/* The earliest timer; false when the heap is empty. */
bool timer_heap_peek(const struct timer_heap *h, size_t *id, uint64_t *when);
size_t timer_heap_size(const struct timer_heap *h);

#endif
