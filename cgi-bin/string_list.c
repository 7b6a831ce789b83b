/* Lists of short strings checked, folded, sorted and deduplicated (string_list.h). */
#include "string_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

_Static_assert(TAG_MAX_LEN <= STRING_LIST_ITEM_MAX && DEVICE_ID_MAX <= STRING_LIST_ITEM_MAX,
               "an item fits STRING_LIST_ITEM_MAX");

bool string_list_take_tag(const char *in, size_t len, char *out)
{
    return tag_fold(in, len, out);
}

bool string_list_take_device_id(const char *in, size_t len, char *out)
{
    if (len > DEVICE_ID_MAX || memchr(in, '\0', len))
        return false;
    memcpy(out, in, len);
    out[len] = '\0';
    return valid_device_id(out);
}

static int compare_items(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Items are plain ASCII of the take functions' charsets: none needs escaping in JSON. */
static bool write_json(char (*items)[STRING_LIST_ITEM_MAX + 1], size_t n, char *out, size_t out_len)
{
    size_t used = 0;
    out[used++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(items[i], items[i - 1]) == 0)
            continue;
        int w = snprintf(out + used, out_len - used, "%s\"%s\"", used > 1 ? "," : "", items[i]);
        if (w < 0 || (size_t)w >= out_len - used)
            return false;
        used += (size_t)w;
    }
    if (used + 2 > out_len)
        return false;
    out[used++] = ']';
    out[used] = '\0';
    return true;
}

bool string_list_canonical(struct json_object *array, const struct string_list_rule *rule, char *out,
                           size_t out_len, char *err, size_t err_len)
{
    if (!json_object_is_type(array, json_type_array)) {
        snprintf(err, err_len, "%s must be an array of at most %zu strings", rule->name, rule->max);
        return false;
    }
    size_t n = json_object_array_length(array);
    /* Duplicates fold only after the check: more than twice the cap is refused at once. */
    if (n > 2 * rule->max) {
        snprintf(err, err_len, "%s must hold at most %zu items", rule->name, rule->max);
        return false;
    }
    char(*items)[STRING_LIST_ITEM_MAX + 1] = calloc(n ? n : 1, sizeof *items);
    bool ok = items != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        struct json_object *v = json_object_array_get_idx(array, i);
        ok = json_object_is_type(v, json_type_string) &&
             rule->take(json_object_get_string(v), (size_t)json_object_get_string_len(v), items[i]);
        if (!ok)
            snprintf(err, err_len, "%s[%zu] must be %s", rule->name, i, rule->item_rule);
    }
    if (ok) {
        qsort(items, n, sizeof *items, compare_items);
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++)
            distinct += i == 0 || strcmp(items[i], items[i - 1]) != 0;
        ok = distinct <= rule->max;
        if (!ok)
            snprintf(err, err_len, "%s must hold at most %zu items", rule->name, rule->max);
    }
    if (ok && !write_json(items, n, out, out_len)) {
        snprintf(err, err_len, "%s is too long", rule->name);
        ok = false;
    } else if (!items) {
        snprintf(err, err_len, "out of memory");
    }
    free(items);
    return ok;
}
