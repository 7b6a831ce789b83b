/* Fills a provd database for `make bench` without HTTP: many accepted devices with one telemetry
 * key, or readings for a range of them, through the store's bulk-load functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "validate.h"

#define COUNT_MAX 100000000

static int usage(void)
{
    fprintf(stderr,
            "usage: seed --db PATH devices PREFIX COUNT KEY   (KEY -: none of their own)\n"
            "       seed --db PATH readings PREFIX FIRST COUNT PER_DEVICE\n"
            "Device ids are PREFIX and the number in %d upper-case hex digits, from 0.\n",
            STORE_BULK_ID_DIGITS);
    return 2;
}

/* A reading as a device sends it: a value and its SEQN. */
static size_t reading_text(int64_t seqn, char *buf, size_t len, void *user_data)
{
    (void)user_data;
    int w = snprintf(buf, len, "{\"data\":{\"value\":%lld},\"SEQN\":%lld}", (long long)(seqn % 1000),
                     (long long)seqn);
    return w > 0 && (size_t)w < len ? (size_t)w : 0;
}

static bool count_arg(const char *text, int64_t min, int64_t *out)
{
    if (parse_int_range(text, min, COUNT_MAX, out))
        return true;
    fprintf(stderr, "seed: \"%s\" is not a whole number from %lld to %d\n", text, (long long)min, COUNT_MAX);
    return false;
}

static enum store_status seed(struct store *s, int argc, char **argv)
{
    int64_t now = (int64_t)time(NULL), first, count, per_device;
    if (argc == 4 && strcmp(argv[0], "devices") == 0 && count_arg(argv[2], 1, &count))
        return store_device_bulk_add(s, argv[1], 0, count, strcmp(argv[3], "-") == 0 ? NULL : argv[3], now);
    if (argc == 5 && strcmp(argv[0], "readings") == 0 && count_arg(argv[2], 0, &first) &&
        count_arg(argv[3], 1, &count) && count_arg(argv[4], 1, &per_device))
        return store_reading_bulk_add(s, argv[1], first, count, per_device, now, 60, reading_text, NULL);
    return STORE_REFUSED;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--db") != 0)
        return usage();
    char err[512];
    struct store *s = store_open(argv[2], err, sizeof err);
    if (!s) {
        fprintf(stderr, "seed: %s\n", err);
        return 1;
    }
    enum store_status st = seed(s, argc - 3, argv + 3);
    if (st == STORE_ERROR)
        fprintf(stderr, "seed: %s\n", store_errmsg(s));
    store_free(s);
    if (st == STORE_REFUSED)
        return usage();
    return st == STORE_OK ? 0 : 1;
}
