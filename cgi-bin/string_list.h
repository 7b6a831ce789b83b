/* Lists of short strings from a request body (a device's tags, the ids of a bulk change), each
 * checked and folded, and written back as one canonical JSON array: the text the store takes. */
#ifndef PROVD_STRING_LIST_H
#define PROVD_STRING_LIST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Checks in[len] and writes its canonical form into out (at most STRING_LIST_ITEM_MAX bytes and
 * a NUL); false when it is not a valid item. */
#define STRING_LIST_ITEM_MAX 64
typedef bool (*string_list_take_fn)(const char *in, size_t len, char *out);

struct string_list_rule {
    const char *name; /* the field, for messages ("tags") */
    size_t max;       /* items at most, after duplicates are folded */
    string_list_take_fn take;
    const char *item_rule; /* what an item must be, for messages */
};

/* array (a JSON array of strings) as a sorted JSON array of its items, each taken once, into
 * out; false with err naming the first item at fault ("tags[2] must be ..."). */
bool string_list_canonical(struct json_object *array, const struct string_list_rule *rule, char *out,
                           size_t out_len, char *err, size_t err_len);
/* The room string_list_canonical() needs for max items. */
#define STRING_LIST_JSON_MAX(max) (2 + (size_t)(max) * (STRING_LIST_ITEM_MAX + 3))

/* string_list_take_fn for tags (tag_fold()) and device ids (valid_device_id()). */
bool string_list_take_tag(const char *in, size_t len, char *out);
bool string_list_take_device_id(const char *in, size_t len, char *out);

#endif
