/* timer_heap.c: an array heap with a position index per id (SIZE_MAX: not scheduled), so a
 * device's timer can be moved or removed without searching. */
#include "timer_heap.h"

#include <stdlib.h>

struct entry {
    uint64_t when;
    size_t id;
};

struct timer_heap {
    size_t size, capacity;
    struct entry *e;
    size_t *pos;
};

struct timer_heap *timer_heap_new(size_t capacity)
{
    struct timer_heap *h;
    size_t i;

    if (capacity == 0)
        return NULL;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->capacity = capacity;
    h->e = calloc(capacity, sizeof *h->e);
    h->pos = calloc(capacity, sizeof *h->pos);
    if (!h->e || !h->pos) {
        timer_heap_free(h);
        return NULL;
    }
    for (i = 0; i < capacity; i++)
        h->pos[i] = SIZE_MAX;
    return h;
}

void timer_heap_free(struct timer_heap *h)
{
    if (!h)
        return;
    free(h->e);
    free(h->pos);
    free(h);
}

static void place(struct timer_heap *h, size_t at, struct entry en)
{
    h->e[at] = en;
    h->pos[en.id] = at;
}

static void sift_up(struct timer_heap *h, size_t at)
{
    struct entry en = h->e[at];

    while (at > 0 && h->e[(at - 1) / 2].when > en.when) {
        place(h, at, h->e[(at - 1) / 2]);
        at = (at - 1) / 2;
    }
    place(h, at, en);
}

static void sift_down(struct timer_heap *h, size_t at)
{
    struct entry en = h->e[at];

    for (;;) {
        size_t child = 2 * at + 1;

        if (child >= h->size)
            break;
        if (child + 1 < h->size && h->e[child + 1].when < h->e[child].when)
            child++;
        if (h->e[child].when >= en.when)
            break;
        place(h, at, h->e[child]);
        at = child;
    }
    place(h, at, en);
}

void timer_heap_set(struct timer_heap *h, size_t id, uint64_t when)
{
    size_t at = h->pos[id];

    if (at == SIZE_MAX) {
        at = h->size++;
        place(h, at, (struct entry){when, id});
        sift_up(h, at);
        return;
    }
    h->e[at].when = when;
    sift_up(h, at);
    sift_down(h, h->pos[id]);
}

void timer_heap_remove(struct timer_heap *h, size_t id)
{
    size_t at = h->pos[id];
    struct entry moved;

    if (at == SIZE_MAX)
        return;
    h->pos[id] = SIZE_MAX;
    if (at == --h->size)
        return;
    /* The last entry fills the hole and moves whichever way its deadline says. */
    moved = h->e[h->size];
    place(h, at, moved);
    sift_up(h, at);
    sift_down(h, h->pos[moved.id]);
}

bool timer_heap_peek(const struct timer_heap *h, size_t *id, uint64_t *when)
{
    if (h->size == 0)
        return false;
    *id = h->e[0].id;
    *when = h->e[0].when;
    return true;
}

size_t timer_heap_size(const struct timer_heap *h)
{
    return h->size;
}
