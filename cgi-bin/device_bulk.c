/* POST /api/bulk: one admin change -- tag, untag, approve, set a configuration property -- to every
 * device a filter matches (the list's: state, online, q, tag) or to a list of ids, a batch of at
 * most `limit` devices per call (store_device_bulk()). */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "fields.h"
#include "string_list.h"
#include "validate.h"

#define BULK_LIMIT_DEFAULT 1000
#define BULK_LIMIT_MAX     5000 /* devices changed in one transaction: tens of ms of SQLite's write lock */
#define BULK_IDS_MAX       200 /* 200 ids of 64 characters fit the 16 KiB body nginx takes */
#define FILTER_TEXT_MAX    64 /* characters of filter.q, as the list's ?q= */
#define TAG_RULE           "must be a tag: 1-32 characters of a-z 0-9 . _ -"

static const char *const action_names[] = {
    [DEVICE_BULK_TAG] = "tag", [DEVICE_BULK_UNTAG] = "untag",
    [DEVICE_BULK_APPROVE] = "approve", [DEVICE_BULK_SET] = "set",
};

static bool check_action(const struct field_value *v)
{
    for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++)
        if (strcmp(v->str, action_names[i]) == 0)
            return strlen(v->str) == v->len;
    return false;
}

static enum device_bulk_action action_of(const char *name)
{
    enum device_bulk_action a = DEVICE_BULK_TAG;
    while (strcmp(action_names[a], name) != 0)
        a++;
    return a;
}

static bool check_tag(const struct field_value *v)
{
    char folded[TAG_MAX_LEN + 1];
    return tag_fold(v->str, v->len, folded);
}

static bool check_key(const struct field_value *v)
{
    return valid_property_key(v->str, v->len);
}

static bool check_value(const struct field_value *v)
{
    return v->len <= DATA_MAX;
}

static bool check_limit(const struct field_value *v)
{
    return v->num >= 1 && v->num <= BULK_LIMIT_MAX;
}

static bool check_state(const struct field_value *v)
{
    return strlen(v->str) == v->len && valid_state(v->str);
}

static bool check_text(const struct field_value *v)
{
    return valid_name(v->str, v->len);
}

/* The values a filter's strings are kept in until the store has run. */
struct bulk_filter {
    struct fields body;
    char tag[TAG_MAX_LEN + 1];
    char ids[STRING_LIST_JSON_MAX(BULK_IDS_MAX)];
};

/* "filter": {"state", "online", "q", "tag"} into f; false with err. */
static bool read_filter(const struct field_value *filter, struct bulk_filter *kept, struct device_filter *f,
                        char *err, size_t err_len)
{
    enum { STATE, ONLINE, Q, TAG, FIELD_COUNT };
    static const struct field fields[FIELD_COUNT] = {
        [STATE] = {"state", FIELD_STRING, false, check_state, "must be pending, accepted or rejected"},
        [ONLINE] = {"online", FIELD_BOOL, false, NULL, NULL},
        [Q] = {"q", FIELD_STRING, false, check_text, "must be at most 64 characters of text"},
        [TAG] = {"tag", FIELD_STRING, false, check_tag, TAG_RULE},
    };
    struct field_value v[FIELD_COUNT];
    char why[160];
    if (!fields_parse(&kept->body, filter->str, filter->len, fields, FIELD_COUNT, FIELDS_REFUSE_UNKNOWN, v, why,
                      sizeof why)) {
        snprintf(err, err_len, "filter: %s", why);
        return false;
    }
    f->state = v[STATE].str;
    f->online = v[ONLINE].present ? v[ONLINE].flag : -1;
    f->q = v[Q].str && v[Q].str[0] ? v[Q].str : NULL;
    if (v[TAG].present) {
        tag_fold(v[TAG].str, v[TAG].len, kept->tag);
        f->tag = kept->tag;
    }
    return true;
}

static void send_result(struct response *res, enum device_bulk_action action, int64_t affected, int limit)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "action", json_object_new_string(action_names[action]));
    json_object_object_add(o, "affected", json_object_new_int64(affected));
    json_object_object_add(o, "more", json_object_new_boolean(affected == limit));
    response_json(res, 200, o);
}

/* Which of tag, key and value the action takes: each must be there for it, and only for it. */
static bool check_parts(enum device_bulk_action a, const struct field_value *tag, const struct field_value *key,
                        const struct field_value *value, char *err, size_t err_len)
{
    bool tags = a == DEVICE_BULK_TAG || a == DEVICE_BULK_UNTAG, set = a == DEVICE_BULK_SET;
    if (tags != tag->present)
        snprintf(err, err_len, tags ? "tag is required for %s" : "tag is not taken by %s", action_names[a]);
    else if (set != key->present || set != value->present)
        snprintf(err, err_len, set ? "key and value are required for %s" : "key and value are not taken by %s",
                 action_names[a]);
    else
        return true;
    return false;
}

/* One audit entry per call that changed devices: the request as the admin sent it and how many it
 * changed (the devices' own histories do not list it). */
static enum store_status audit_bulk(struct app *app, const struct request *req, int64_t affected)
{
    char *after = NULL;
    if (asprintf(&after, "{\"request\":%.*s,\"affected\":%lld}", (int)req->body_len, req->body,
                 (long long)affected) < 0)
        return STORE_ERROR;
    enum store_status st = audit_record(app->store, &app->actor, "devices.bulk", "devices", NULL, after);
    free(after);
    return st;
}

void handle_device_bulk(struct app *app, const struct request *req, struct response *res)
{
    enum { ACTION, TAG, KEY, VALUE, FILTER, IDS, LIMIT, FIELD_COUNT };
    static const struct field fields[FIELD_COUNT] = {
        [ACTION] = {"action", FIELD_STRING, false, check_action, "must be tag, untag, approve or set"},
        [TAG] = {"tag", FIELD_STRING, false, check_tag, TAG_RULE},
        [KEY] = {"key", FIELD_STRING, false, check_key,
                 "must be a property name: 1-64 characters of A-Z a-z 0-9 _ -"},
        [VALUE] = {"value", FIELD_JSON, false, check_value, "must be JSON of at most 8192 bytes"},
        [FILTER] = {"filter", FIELD_OBJECT, false, NULL, NULL},
        [IDS] = {"ids", FIELD_ARRAY, false, NULL, NULL},
        [LIMIT] = {"limit", FIELD_INT, false, check_limit, "must be from 1 to 5000 devices"},
    };
    static const struct string_list_rule id_rule = {"ids", BULK_IDS_MAX, string_list_take_device_id,
                                                    "a device id"};
    struct field_value v[FIELD_COUNT];
    struct fields body;
    struct bulk_filter kept = {0};
    char err[200];
    if (!fields_parse(&body, req->body, req->body_len, fields, FIELD_COUNT, FIELDS_REFUSE_UNKNOWN, v, err,
                      sizeof err)) {
        response_error(res, 400, "%s", err);
        return;
    }
    struct device_filter f = {.online = -1, .limit = BULK_LIMIT_DEFAULT, .now = app->now(),
                              .default_interval = app->config.poll_interval};
    struct device_bulk b = {0};
    bool ok = true;
    if (!v[ACTION].present) {
        ok = false;
        snprintf(err, sizeof err, "action is required: tag, untag, approve or set");
    } else if (v[FILTER].present == v[IDS].present) {
        ok = false;
        snprintf(err, sizeof err, "give either filter (the list's: state, online, q, tag; {} for every device) "
                                  "or ids, not both");
    } else {
        b.action = action_of(v[ACTION].str);
        ok = check_parts(b.action, &v[TAG], &v[KEY], &v[VALUE], err, sizeof err);
    }
    if (ok && v[FILTER].present)
        ok = read_filter(&v[FILTER], &kept, &f, err, sizeof err);
    if (ok && v[IDS].present) {
        ok = string_list_canonical(v[IDS].json, &id_rule, kept.ids, sizeof kept.ids, err, sizeof err);
        f.ids = kept.ids;
    }
    char tag[TAG_MAX_LEN + 1];
    if (ok && v[TAG].present) {
        tag_fold(v[TAG].str, v[TAG].len, tag);
        b.tag = tag;
    }
    b.key = v[KEY].str;
    b.value = v[VALUE].str;
    if (v[LIMIT].present)
        f.limit = (int)v[LIMIT].num;
    int64_t affected = 0;
    enum store_status st = ok ? store_device_bulk(app->store, &f, &b, &affected) : STORE_OK;
    if (ok && st == STORE_OK && affected > 0)
        st = audit_bulk(app, req, affected);
    if (!ok)
        response_error(res, 400, "%s", err);
    else if (st != STORE_OK)
        respond_store_error(app, res, st);
    else
        send_result(res, b.action, affected, f.limit);
    fields_free(&kept.body);
    fields_free(&body);
}
