/* Body parsing (strict JSON, see json_strict.h) against a field table. */
#include "fields.h"

#include <stdio.h>
#include <string.h>

#include "json_strict.h"

static const char *type_name(enum field_type type)
{
    switch (type) {
    case FIELD_STRING: return "a string";
    case FIELD_INT: return "an integer";
    case FIELD_BOOL: return "true or false";
    case FIELD_ARRAY: return "an array";
    case FIELD_OBJECT: return "an object";
    default: return "JSON";
    }
}

static bool read_value(struct json_object *v, const struct field *f, struct field_value *out)
{
    out->present = true;
    if (!v) {
        out->is_null = true;
        return f->nullable;
    }
    switch (f->type) {
    case FIELD_STRING:
        if (!json_object_is_type(v, json_type_string))
            return false;
        out->str = json_object_get_string(v);
        out->len = (size_t)json_object_get_string_len(v);
        return true;
    case FIELD_INT:
        if (!json_object_is_type(v, json_type_int))
            return false;
        out->num = json_object_get_int64(v);
        return true;
    case FIELD_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return false;
        out->flag = json_object_get_boolean(v);
        return true;
    case FIELD_ARRAY:
    case FIELD_OBJECT:
        if (!json_object_is_type(v, f->type == FIELD_ARRAY ? json_type_array : json_type_object))
            return false;
        /* fall through */
    case FIELD_JSON:
        out->json = v;
        /* Slashes stay unescaped: the 8 KiB limit counts what the operator wrote. */
        out->str = json_object_to_json_string_length(
            v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &out->len);
        return true;
    }
    return false;
}

/* The body must be one strict JSON object without repeated names (json-c would keep only
 * the last, and json-c alone would store NaN or 1. and later serve them as broken JSON). */
static bool parse_root(struct fields *parsed, const char *body, size_t len, char *err, size_t err_len)
{
    if (len == 0) {
        parsed->root = json_object_new_object();
        return parsed->root != NULL;
    }
    size_t members = 0;
    parsed->root = json_strict_parse(body, len, &members);
    if (!parsed->root) {
        snprintf(err, err_len, "body is not valid JSON (RFC 8259, UTF-8)");
        return false;
    }
    if (!json_object_is_type(parsed->root, json_type_object)) {
        snprintf(err, err_len, "body must be a JSON object");
        fields_free(parsed);
        return false;
    }
    if ((size_t)json_object_object_length(parsed->root) != members) {
        snprintf(err, err_len, "body names a member twice");
        fields_free(parsed);
        return false;
    }
    return true;
}

#define UNKNOWN_NAME_SHOWN 64 /* bytes of an unknown member's name quoted in the 400 */

/* The first member of the body that fields does not declare; NULL when there is none. */
static const char *first_unknown(struct json_object *root, const struct field *fields, size_t count)
{
    json_object_object_foreach(root, name, value)
    {
        (void)value;
        size_t i = 0;
        while (i < count && strcmp(fields[i].name, name) != 0)
            i++;
        if (i == count)
            return name;
    }
    return NULL;
}

bool fields_parse(struct fields *parsed, const char *body, size_t len, const struct field *fields,
                  size_t count, enum fields_unknown unknown, struct field_value *values, char *err,
                  size_t err_len)
{
    parsed->root = NULL;
    if (!parse_root(parsed, body, len, err, err_len))
        return false;
    const char *extra = unknown == FIELDS_REFUSE_UNKNOWN ? first_unknown(parsed->root, fields, count) : NULL;
    if (extra) {
        /* A long name is not quoted: cut, it could end inside a UTF-8 character. */
        if (strlen(extra) <= UNKNOWN_NAME_SHOWN)
            snprintf(err, err_len, "unknown field \"%s\"", extra);
        else
            snprintf(err, err_len, "unknown field (a name of %zu bytes)", strlen(extra));
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        const struct field *f = &fields[i];
        struct json_object *v;
        memset(&values[i], 0, sizeof values[i]);
        if (!json_object_object_get_ex(parsed->root, f->name, &v))
            continue;
        if (!read_value(v, f, &values[i])) {
            snprintf(err, err_len, "%s must be %s%s", f->name, type_name(f->type),
                     f->nullable ? " or null" : "");
            goto fail;
        }
        if (!values[i].is_null && f->check && !f->check(&values[i])) {
            snprintf(err, err_len, "%s %s", f->name, f->rule);
            goto fail;
        }
    }
    return true;
fail:
    fields_free(parsed);
    return false;
}

void fields_free(struct fields *parsed)
{
    json_object_put(parsed->root);
    parsed->root = NULL;
}
