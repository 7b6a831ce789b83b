/* The query parameters of GET /api/devices/{id}/telemetry, each checked with a 400 naming it. */
#include <stdint.h>
#include <string.h>

#include "telemetry.h"
#include "validate.h"

/* A time bound: absent leaves *t as it is; present must be ISO-8601 UTC. */
static int read_time(const char *query, const char *name, char *text, size_t len, int64_t *t)
{
    int has = query_param(query, name, text, len);
    if (has > 0 && !isotime_parse(text, t))
        return -1;
    return has;
}

static int read_number(const char *query, const char *name, int64_t min, int64_t max, int64_t *out)
{
    char text[24];
    int has = query_param(query, name, text, sizeof text);
    if (has > 0 && !parse_int_range(text, min, max, out))
        return -1;
    return has;
}

bool telemetry_query_read(const char *query, struct telemetry_query *q, struct response *res)
{
    char word[8];
    memset(q, 0, sizeof *q);
    q->filter =
        (struct reading_filter){.since = 0, .until = INT64_MAX, .after = -1, .limit = READINGS_LIMIT_DEFAULT};
    int has = read_time(query, "since", q->since, sizeof q->since, &q->filter.since);
    if (has < 0) {
        response_error(res, 400, "since must be an ISO-8601 UTC time, e.g. 2026-11-22T08:00:00Z");
        return false;
    }
    q->has_since = has > 0;
    has = read_time(query, "until", q->until, sizeof q->until, &q->filter.until);
    if (has < 0) {
        response_error(res, 400, "until must be an ISO-8601 UTC time, e.g. 2026-11-22T09:00:00Z");
        return false;
    }
    q->has_until = has > 0;
    if (read_number(query, "limit", 1, READINGS_LIMIT_MAX, &q->filter.limit) < 0) {
        response_error(res, 400, "limit must be a whole number from 1 to %d", READINGS_LIMIT_MAX);
        return false;
    }
    if (read_number(query, "after", 0, INT64_MAX, &q->filter.after) < 0) {
        response_error(res, 400, "after must be a reading id (the last one of the previous page)");
        return false;
    }
    if (read_number(query, "bucket", 1, BUCKET_MAX, &q->bucket) < 0) {
        response_error(res, 400, "bucket must be whole seconds from 1 to %d", BUCKET_MAX);
        return false;
    }
    bool descending;
    if (!query_order(query, true, &descending)) {
        response_error(res, 400, "order must be asc or desc");
        return false;
    }
    q->filter.ascending = !descending;
    has = query_param(query, "format", word, sizeof word);
    if (has != 0 && (has < 0 || (strcmp(word, "csv") != 0 && strcmp(word, "json") != 0))) {
        response_error(res, 400, "format must be json or csv");
        return false;
    }
    q->csv = has > 0 && strcmp(word, "csv") == 0;
    if (q->filter.since > q->filter.until) {
        response_error(res, 400, "since must not be after until");
        return false;
    }
    return true;
}
