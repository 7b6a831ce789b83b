/* fuzz_fw_json.c: libFuzzer target for the firmware's JSON reader, fed exactly what a server
 * (or anyone on the network path) could send: checks every span stays inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(const char *doc, size_t size, const struct fw_json_value *v)
{
    if (v->text < doc || v->len > size || (size_t)(v->text - doc) > size - v->len)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"cfgsn", "data", "poll_interval", ""};
    const char *doc = (const char *)data;
    struct fw_json_value v;
    size_t i;

    if (fw_json_parse(doc, size, &v) == FW_JSON_OK) {
        check_span(doc, size, &v);
        /* A valid value re-parses to itself. */
        if (fw_json_parse(v.text, v.len, &v) != FW_JSON_OK)
            __builtin_trap();
    }
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint32_t n;

        if (fw_json_get(doc, size, keys[i], &v) != FW_JSON_OK)
            continue;
        check_span(doc, size, &v);
        /* Every member found is itself a complete, valid value. */
        if (fw_json_parse(v.text, v.len, &v) != FW_JSON_OK)
            __builtin_trap();
        (void)fw_json_uint32(&v, &n);
    }
    return 0;
}
