/* Declared request-body fields: a handler lists the fields it reads with their types and rules;
 * fields_parse() checks the whole body against the list before the handler sees any value. */
#ifndef PROVD_FIELDS_H
#define PROVD_FIELDS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FIELD_JSON: any JSON value; FIELD_ARRAY, FIELD_OBJECT: one of that type. */
enum field_type { FIELD_STRING, FIELD_INT, FIELD_BOOL, FIELD_JSON, FIELD_ARRAY, FIELD_OBJECT };

struct field_value {
    bool present;
    bool is_null;
    const char *str; /* FIELD_STRING: the string; FIELD_JSON, _ARRAY, _OBJECT: canonical JSON text */
    struct json_object *json; /* FIELD_JSON, _ARRAY, _OBJECT: the value itself */
    size_t len;
    int64_t num; /* FIELD_INT */
    bool flag;   /* FIELD_BOOL */
};

struct field {
    const char *name;
    enum field_type type;
    bool nullable;
    bool (*check)(const struct field_value *value); /* an extra rule, or NULL */
    const char *rule;                               /* says the rule in the 400 message */
};

/* The parsed body: values[i] belongs to fields[i]. Strings are borrowed from the parse and
 * live until fields_free(). */
struct fields {
    struct json_object *root;
};

/* What a member the table does not declare means: devices' bodies ignore them (the original
 * firmware sends more than provd reads); admins' refuse them, so that a typo is not a silent no-op. */
enum fields_unknown { FIELDS_IGNORE_UNKNOWN, FIELDS_REFUSE_UNKNOWN };

/* body[len] must be '\0'. An empty body counts as {}.
 * On failure, err says which field is wrong and how, e.g. "ssid must be at most 32 bytes", or
 * "unknown field \"firmwar\"". */
bool fields_parse(struct fields *parsed, const char *body, size_t len, const struct field *fields,
                  size_t count, enum fields_unknown unknown, struct field_value *values, char *err,
                  size_t err_len);
void fields_free(struct fields *parsed);

#endif
