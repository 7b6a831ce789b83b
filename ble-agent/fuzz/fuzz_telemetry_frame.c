/* libFuzzer target for Telemetry In frames and Telemetry Result values: a parsed id is always
 * a valid id, and every result, cut to any size, is JSON that gives the body's prefix back. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct telemetry_frame f;
    char out[600];

    if (telemetry_frame_parse(data, size, &f) == 0 &&
        (!telemetry_id_valid((const uint8_t *)f.id, strlen(f.id)) || f.body_len == 0 ||
         f.body + f.body_len != data + size))
        abort();
    /* The first byte picks the room the result gets (the attribute is 512 bytes). */
    size_t cap = size ? 24 + data[0] * 2u : 512;
    int n = telemetry_result_format(201, data, size, out, cap);

    if (n < 0 || (size_t)n > cap)
        abort();
    out[n] = '\0';
    struct json_object *o = json_tokener_parse(out);

    if (!o || json_object_get_type(o) != json_type_object)
        abort();
    json_object_put(o);
    return 0;
}
