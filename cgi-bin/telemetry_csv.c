/* CSV export of readings, streamed with no page limit: a first pass over the range collects
 * the columns (every field path seen, in order of first appearance), a second writes the rows,
 * so memory stays bounded by one reading however long the range. */
#include <json-c/printbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "telemetry.h"

#define COLUMNS_MAX  1000
#define PATH_MAX_LEN 256

typedef void (*leaf_fn)(const char *path, struct json_object *value, void *user_data);

/* Calls fn for each leaf of v with its dotted path ("data.value", "list.0"). */
static void flatten(struct json_object *v, char *path, size_t len, leaf_fn fn, void *user_data)
{
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, child)
        {
            int n = snprintf(path + len, PATH_MAX_LEN - len, "%s%s", len ? "." : "", key);
            if (n > 0 && len + (size_t)n < PATH_MAX_LEN)
                flatten(child, path, len + n, fn, user_data);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            int n = snprintf(path + len, PATH_MAX_LEN - len, "%s%zu", len ? "." : "", i);
            if (n > 0 && len + (size_t)n < PATH_MAX_LEN)
                flatten(json_object_array_get_idx(v, i), path, len + n, fn, user_data);
        }
    } else {
        path[len] = '\0';
        fn(path, v, user_data);
    }
}

/* The reading's own fields; SEQN and ts have columns of their own. */
static void for_each_field(struct json_object *reading, leaf_fn fn, void *user_data)
{
    char path[PATH_MAX_LEN];
    json_object_object_foreach(reading, key, child)
    {
        if (strcmp(key, "SEQN") == 0 || strcmp(key, "ts") == 0)
            continue;
        int n = snprintf(path, sizeof path, "%s", key);
        if (n > 0 && (size_t)n < sizeof path)
            flatten(child, path, (size_t)n, fn, user_data);
    }
}

static struct json_object *parse_reading(const char *text)
{
    struct json_object *root = json_tokener_parse(text);
    if (root && !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = NULL;
    }
    return root;
}

struct export
{
    struct response *res;
    struct json_object *columns; /* path -> column number, in order of first appearance */
    int column_count;
    struct json_object **row; /* pass 2: this reading's value per column (borrowed) */
    struct printbuf *line;
};

static void add_column(const char *path, struct json_object *value, void *user_data)
{
    (void)value;
    struct export *e = user_data;
    if (e->column_count < COLUMNS_MAX && !json_object_object_get_ex(e->columns, path, NULL))
        json_object_object_add(e->columns, path, json_object_new_int(e->column_count++));
}

static bool collect_columns(const struct reading *r, void *user_data)
{
    struct json_object *root = parse_reading(r->reading);
    if (root)
        for_each_field(root, add_column, user_data);
    json_object_put(root);
    return true;
}

/* One CSV cell (RFC 4180). Text that a spreadsheet would run as a formula gets a leading '. */
static void put_cell(struct printbuf *line, const char *text, bool is_text)
{
    if (line->bpos > 0)
        printbuf_memappend(line, ",", 1);
    bool formula = is_text && strchr("=+-@\t\r", text[0]) && text[0];
    if (!formula && !strpbrk(text, ",\"\r\n")) {
        printbuf_memappend(line, text, (int)strlen(text));
        return;
    }
    printbuf_memappend(line, "\"", 1);
    if (formula)
        printbuf_memappend(line, "'", 1);
    for (const char *c = text; *c; c++) {
        printbuf_memappend(line, c, 1);
        if (*c == '"')
            printbuf_memappend(line, "\"", 1); /* a quote inside a quoted cell is doubled */
    }
    printbuf_memappend(line, "\"", 1);
}

static void put_value(struct printbuf *line, struct json_object *v)
{
    if (!v || json_object_is_type(v, json_type_null))
        put_cell(line, "", false);
    else if (json_object_is_type(v, json_type_string))
        put_cell(line, json_object_get_string(v), true);
    else
        put_cell(line, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), false);
}

static void put_time(struct printbuf *line, int64_t t)
{
    char text[ISOTIME_LEN + 1] = "";
    if (t != TS_NONE)
        isotime_format(t, text);
    put_cell(line, text, false);
}

static void end_line(struct export *e)
{
    printbuf_memappend(e->line, "\r\n", 2);
    response_stream_write(e->res, e->line->buf, (size_t)e->line->bpos);
    printbuf_reset(e->line);
}

static void place_value(const char *path, struct json_object *value, void *user_data)
{
    struct export *e = user_data;
    struct json_object *column;
    if (json_object_object_get_ex(e->columns, path, &column))
        e->row[json_object_get_int(column)] = value;
}

static bool write_row(const struct reading *r, void *user_data)
{
    struct export *e = user_data;
    struct json_object *root = parse_reading(r->reading);
    memset(e->row, 0, sizeof *e->row * (size_t)(e->column_count ? e->column_count : 1));
    if (root)
        for_each_field(root, place_value, e);
    char seqn[24];
    snprintf(seqn, sizeof seqn, "%lld", (long long)r->seqn);
    put_cell(e->line, seqn, false);
    put_time(e->line, r->received_at);
    put_time(e->line, r->ts);
    for (int i = 0; i < e->column_count; i++)
        put_value(e->line, e->row[i]);
    end_line(e);
    json_object_put(root);
    return true;
}

void telemetry_csv(struct app *app, const char *deviceid, const struct reading_filter *filter,
                   struct response *res)
{
    struct reading_filter all = *filter;
    all.limit = -1;
    struct export e = {.res = res, .columns = json_object_new_object(), .line = printbuf_new()};
    if (!e.columns || !e.line) {
        response_error(res, 500, "out of memory");
        goto done;
    }
    enum store_status st = store_reading_list(app->store, deviceid, &all, collect_columns, &e);
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        goto done;
    }
    e.row = calloc((size_t)(e.column_count ? e.column_count : 1), sizeof *e.row);
    if (!e.row) {
        response_error(res, 500, "out of memory");
        goto done;
    }
    response_header(res, "Content-Disposition", "attachment; filename=\"%s-telemetry.csv\"", deviceid);
    response_stream_begin(res, 200, "text/csv; charset=utf-8");
    put_cell(e.line, "seqn", false);
    put_cell(e.line, "received_at", false);
    put_cell(e.line, "ts", false);
    json_object_object_foreach(e.columns, path, column)
    {
        (void)column;
        put_cell(e.line, path, true);
    }
    end_line(&e);
    /* A failure now can only cut the stream short: the status is already out. */
    if (store_reading_list(app->store, deviceid, &all, write_row, &e) != STORE_OK)
        log_event("error", "csv_cut_short", app->request_id, deviceid, "%s", store_errmsg(app->store));
done:
    free(e.row);
    printbuf_free(e.line);
    json_object_put(e.columns);
}
