/* Reading telemetry back: the query parameters of GET /api/devices/{id}/telemetry and the CSV
 * export, shared by telemetry.c (JSON pages, buckets) and telemetry_csv.c. */
#ifndef PROVD_TELEMETRY_H
#define PROVD_TELEMETRY_H

#include "app.h"
#include "isotime.h"

#define READINGS_LIMIT_DEFAULT 100
#define READINGS_LIMIT_MAX     10000
#define BUCKET_MAX             (366 * 86400)

struct telemetry_query {
    struct reading_filter filter;
    char since[ISOTIME_LEN + 1], until[ISOTIME_LEN + 1];
    bool has_since, has_until;
    int64_t bucket; /* seconds; 0: plain readings */
    bool csv;
};

/* Reads ?since=&until=&limit=&after=&order=&bucket=&format=; false with the 400 in res. */
bool telemetry_query_read(const char *query, struct telemetry_query *q, struct response *res);

/* Streams every reading the filter selects (its limit is ignored) as CSV: seqn, received_at,
 * ts, then each field of the readings, nested ones flattened with dots. */
void telemetry_csv(struct app *app, const char *deviceid, const struct reading_filter *filter,
                   struct response *res);

#endif
