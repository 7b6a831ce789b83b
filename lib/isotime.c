/* ISO-8601 UTC formatting and strict parsing on top of gmtime_r/timegm. */
#define _GNU_SOURCE /* strptime, timegm */
#include "isotime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t isotime_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec;
}

void isotime_format(int64_t unix_seconds, char out[ISOTIME_LEN + 1])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, ISOTIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != ISOTIME_LEN)
        strcpy(out, "1970-01-01T00:00:00Z");
}

bool isotime_parse(const char *text, int64_t *unix_seconds)
{
    struct tm tm = {0};
    if (strlen(text) != ISOTIME_LEN)
        return false;
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return false;
    time_t t = timegm(&tm);
    /* strptime accepts 2026-02-31: a date that does not round-trip is not a real one. */
    char again[ISOTIME_LEN + 1];
    isotime_format(t, again);
    if (strcmp(again, text) != 0)
        return false;
    *unix_seconds = t;
    return true;
}
