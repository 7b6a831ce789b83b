/* An outbox row (struct alert) as the JSON body a webhook receives (alert_payload.h). */
#include "alert_payload.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"

void alert_id_text(const struct alert *a, char out[ALERT_ID_LEN + 1])
{
    snprintf(out, ALERT_ID_LEN + 1, "%lld", (long long)a->id);
}

static void add_string(struct json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static void add_time(struct json_object *o, const char *key, int64_t t)
{
    char iso[ISOTIME_LEN + 1];
    isotime_format(t, iso);
    add_string(o, key, t > 0 ? iso : NULL);
}

/* The members of detail (written by provd's own code, so well-formed; anything else is left
 * out) that o does not have yet. */
static void add_detail(struct json_object *o, const char *detail)
{
    struct json_object *d = detail ? json_tokener_parse(detail) : NULL;
    if (d && json_object_is_type(d, json_type_object)) {
        json_object_object_foreach(d, key, value) {
            if (!json_object_object_get_ex(o, key, NULL))
                json_object_object_add(o, key, json_object_get(value));
        }
    }
    json_object_put(d);
}

char *alert_payload_alloc(const struct alert *a)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    char id[ALERT_ID_LEN + 1];
    alert_id_text(a, id);
    add_string(o, "id", id);
    add_string(o, "kind", a->kind);
    add_string(o, "subject", a->subject);
    add_time(o, "time", a->at);
    if (a->liveness_to) {
        add_string(o, "device", a->subject);
        add_string(o, "name", a->name ? a->name : "");
        add_string(o, "from", a->liveness_from);
        add_string(o, "to", a->liveness_to);
        add_time(o, "lastseen", a->lastseen);
    }
    add_detail(o, a->detail);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(o);
    return copy;
}
