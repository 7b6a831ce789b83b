/* The set of heartbeat times (see seen_set.h): entries in arrival order, found again through an
 * open-addressing index twice their size. Written by hand: a hash table of fixed size that
 * is emptied at every write is a few lines, smaller than any general library's. */
#include "seen_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct seen_set {
    size_t capacity, count, slots;
    struct store_seen *entries;
    uint32_t *slot; /* 1 + index into entries, 0: free */
};

struct seen_set *seen_set_new(size_t capacity)
{
    struct seen_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->capacity = capacity;
    set->slots = 2 * capacity;
    set->entries = malloc(capacity * sizeof *set->entries);
    set->slot = calloc(set->slots, sizeof *set->slot);
    if (!set->entries || !set->slot) {
        seen_set_free(set);
        return NULL;
    }
    return set;
}

void seen_set_free(struct seen_set *set)
{
    if (!set)
        return;
    free(set->entries);
    free(set->slot);
    free(set);
}

/* Rows are dense integers: a multiplicative hash spreads neighbours over the slots. */
static size_t slot_of(const struct seen_set *set, int64_t row)
{
    return (size_t)(((uint64_t)row * UINT64_C(0x9E3779B97F4A7C15)) >> 32) % set->slots;
}

bool seen_set_put(struct seen_set *set, int64_t row, int64_t at)
{
    size_t i = slot_of(set, row);
    while (set->slot[i] && set->entries[set->slot[i] - 1].row != row)
        i = (i + 1) % set->slots;
    if (set->slot[i]) {
        struct store_seen *e = &set->entries[set->slot[i] - 1];
        if (e->at < at)
            e->at = at;
        return true;
    }
    if (set->count == set->capacity)
        return false;
    set->entries[set->count] = (struct store_seen){row, at};
    set->slot[i] = (uint32_t)++set->count;
    return true;
}

size_t seen_set_count(const struct seen_set *set)
{
    return set->count;
}

const struct store_seen *seen_set_entries(const struct seen_set *set)
{
    return set->entries;
}

static int by_row(const void *a, const void *b)
{
    int64_t x = ((const struct store_seen *)a)->row, y = ((const struct store_seen *)b)->row;
    return (x > y) - (x < y);
}

const struct store_seen *seen_set_sorted(struct seen_set *set)
{
    qsort(set->entries, set->count, sizeof *set->entries, by_row);
    return set->entries;
}

void seen_set_clear(struct seen_set *set)
{
    memset(set->slot, 0, set->slots * sizeof *set->slot);
    set->count = 0;
}
