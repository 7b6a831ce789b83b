/* GET /api/devices: the admin's device list, filtered, sorted by a column and in keyset pages
 * (?after= the last id of the previous page), with a Link header to the next page. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "render.h"
#include "validate.h"

#define LIMIT_DEFAULT  50
#define LIMIT_MAX      1000
#define QUERY_TEXT_MAX 64 /* characters; up to 4 bytes each */

struct page {
    struct app *app;
    struct json_out out;
    int64_t now;
    char last_id[DEVICE_ID_MAX + 1];
};

static void add_device(const struct device *d, void *user_data)
{
    struct page *p = user_data;
    device_write_json(&p->out, d, &p->app->config, p->now);
    snprintf(p->last_id, sizeof p->last_id, "%s", d->deviceid);
}

/* ?sort= names: only these strings choose a sort, and the store maps each to its statement. */
static const char *const sort_names[DEVICE_SORT__COUNT] = {
    [DEVICE_SORT_ID] = "deviceid",       [DEVICE_SORT_NAME] = "name",     [DEVICE_SORT_STATE] = "state",
    [DEVICE_SORT_LASTSEEN] = "lastseen", [DEVICE_SORT_IPADDR] = "ipaddr", [DEVICE_SORT_SSID] = "ssid",
    [DEVICE_SORT_CFGSN] = "cfgsn",       [DEVICE_SORT_DATEC] = "datec",
};

static bool find_sort(const char *name, enum device_sort *sort)
{
    for (int i = 0; i < DEVICE_SORT__COUNT; i++) {
        if (strcmp(name, sort_names[i]) == 0) {
            *sort = (enum device_sort)i;
            return true;
        }
    }
    return false;
}

/* The list's query parameters, read and checked; false with the 400 sent. */
struct list_query {
    char limit[8], after[DEVICE_ID_MAX + 1], state[16], online[8], q[4 * QUERY_TEXT_MAX + 1];
    char tag[TAG_MAX_LEN + 1];
    int has_after, has_state, has_online, has_q;
};

/* ?sort=COLUMN&order=asc|desc; by id ascending when absent. */
static bool read_sort(const struct request *req, struct device_filter *f, struct response *res)
{
    char sort[16];
    int has_sort = query_param(req->query, "sort", sort, sizeof sort);
    f->sort = DEVICE_SORT_ID;
    if (has_sort < 0 || (has_sort > 0 && !find_sort(sort, &f->sort))) {
        response_error(res, 400,
                       "sort must be deviceid, name, state, lastseen, ipaddr, ssid, cfgsn or datec");
        return false;
    }
    if (!query_order(req->query, false, &f->descending)) {
        response_error(res, 400, "order must be asc or desc");
        return false;
    }
    return true;
}

static bool read_query(const struct request *req, struct list_query *lq, struct device_filter *f,
                       struct response *res)
{
    int64_t limit = LIMIT_DEFAULT;
    int has_limit = query_param(req->query, "limit", lq->limit, sizeof lq->limit);
    if (has_limit < 0 || (has_limit > 0 && !parse_int_range(lq->limit, 1, LIMIT_MAX, &limit))) {
        response_error(res, 400, "limit must be a whole number from 1 to %d", LIMIT_MAX);
        return false;
    }
    f->limit = (int)limit;
    lq->has_after = query_param(req->query, "after", lq->after, sizeof lq->after);
    if (lq->has_after < 0 || (lq->has_after > 0 && !valid_device_id(lq->after))) {
        response_error(res, 400, "after must be a device id (the last one of the previous page)");
        return false;
    }
    f->after = lq->has_after > 0 ? lq->after : NULL;
    lq->has_state = query_param(req->query, "state", lq->state, sizeof lq->state);
    if (lq->has_state < 0 || (lq->has_state > 0 && !valid_state(lq->state))) {
        response_error(res, 400, "state must be pending, accepted or rejected");
        return false;
    }
    f->state = lq->has_state > 0 ? lq->state : NULL;
    lq->has_online = query_param(req->query, "online", lq->online, sizeof lq->online);
    f->online = -1;
    if (lq->has_online > 0 && strcmp(lq->online, "true") == 0) {
        f->online = 1;
    } else if (lq->has_online > 0 && strcmp(lq->online, "false") == 0) {
        f->online = 0;
    } else if (lq->has_online != 0) {
        response_error(res, 400, "online must be true or false");
        return false;
    }
    lq->has_q = query_param(req->query, "q", lq->q, sizeof lq->q);
    if (lq->has_q < 0 || (lq->has_q > 0 && !valid_name(lq->q, strlen(lq->q)))) {
        response_error(res, 400, "q must be at most %d characters of text", QUERY_TEXT_MAX);
        return false;
    }
    f->q = lq->has_q > 0 && lq->q[0] ? lq->q : NULL;
    char tag[TAG_MAX_LEN + 1];
    int has_tag = query_param(req->query, "tag", tag, sizeof tag);
    if (has_tag < 0 || (has_tag > 0 && tag[0] && !tag_fold(tag, strlen(tag), lq->tag))) {
        response_error(res, 400, "tag must be 1-%d characters of a-z 0-9 . _ -", TAG_MAX_LEN);
        return false;
    }
    f->tag = has_tag > 0 && tag[0] ? lq->tag : NULL;
    return read_sort(req, f, res);
}

/* Link: </api/devices?limit=..&after=LAST&...>; rel="next", keeping the filters and the sort
 * (defaults left out). */
static void next_link(struct response *res, const struct list_query *lq, const struct device_filter *f,
                      const char *last_id)
{
    /* Room for every parameter at its longest, percent-encoded (q: 256 bytes, 3 characters each). */
    char url[1344] = "/api/devices", limit[8];
    snprintf(limit, sizeof limit, "%d", f->limit);
    bool ok =
        query_append(url, sizeof url, "limit", limit) && query_append(url, sizeof url, "after", last_id);
    if (ok && f->state)
        ok = query_append(url, sizeof url, "state", f->state);
    if (ok && f->online >= 0)
        ok = query_append(url, sizeof url, "online", lq->online);
    if (ok && f->q)
        ok = query_append(url, sizeof url, "q", f->q);
    if (ok && f->tag)
        ok = query_append(url, sizeof url, "tag", f->tag);
    if (ok && f->sort != DEVICE_SORT_ID)
        ok = query_append(url, sizeof url, "sort", sort_names[f->sort]);
    if (ok && f->descending)
        ok = query_append(url, sizeof url, "order", "desc");
    if (ok)
        response_header(res, "Link", "<%s>; rel=\"next\"", url);
}

void handle_device_list(struct app *app, const struct request *req, struct response *res)
{
    struct list_query lq;
    struct device_filter f = {0};
    if (!read_query(req, &lq, &f, res))
        return;
    struct page p = {.app = app, .now = app->now()};
    json_out_start(&p.out, res, 200);
    json_out_open_array(&p.out);
    f.now = p.now;
    f.default_interval = app->config.poll_interval;
    int count = 0;
    enum store_status st = store_device_list(app->store, &f, add_device, &p, &count);
    if (st != STORE_OK) {
        if (st == STORE_NOT_FOUND)
            response_error(res, 400,
                           "after must be a device id (the last one of the previous page): "
                           "that device is gone, so start again from the first page");
        else
            respond_store_error(app, res, st);
        return;
    }
    json_out_close_array(&p.out);
    if (count == f.limit)
        next_link(res, &lq, &f, p.last_id);
}
