/* app_logic.c: the ESP8266 application's decisions as plain C over the core's text builder and
 * JSON reader, so they are cross-compiled for the device and unit-tested on the host alike. */
#include "app_logic.h"

#include <limits.h>
#include <string.h>

#include "fw_json.h"
#include "fw_str.h"

int app_format_device_id(const uint8_t mac[6], char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    if (cap < APP_DEVICE_ID_LEN)
        return -1;
    for (i = 0; i < 6; i++) {
        out[3 * i] = hex[mac[i] >> 4];
        out[3 * i + 1] = hex[mac[i] & 15];
        out[3 * i + 2] = i < 5 ? ':' : '\0';
    }
    return 0;
}

/* The value of one hex digit of either case, or -1. */
static int nibble(char c)
{
    static const char digits[] = "0123456789abcdef";
    const char *at;

    if (c >= 'A' && c <= 'F')
        c = (char)(c - 'A' + 'a');
    at = c ? strchr(digits, c) : NULL;
    return at ? (int)(at - digits) : -1;
}

int app_parse_key(const char *hex, enum fw_envelope_version version, struct fw_envelope_key *key)
{
    struct fw_envelope_key k;
    size_t n = strlen(hex), i;

    memset(&k, 0, sizeof k);
    k.version = version;
    if (n % 2 != 0 || n > 2 * sizeof k.key)
        return -1;
    for (i = 0; i < n; i++) {
        int v = nibble(hex[i]);

        if (v < 0)
            return -1;
        k.key[i / 2] = (uint8_t)(k.key[i / 2] << 4 | v);
    }
    k.key_len = n / 2;
    if (fw_envelope_key_valid(&k) != 0)
        return -1;
    *key = k;
    return 0;
}

int app_build_reading(const struct app_sample *sample, char *buf, size_t cap)
{
    struct fw_str out;

    fw_str_init(&out, buf, cap);
    fw_str_put(&out, "{\"data\":{\"adc\":");
    fw_str_put_u32(&out, sample->adc);
    fw_str_put(&out, ",\"heap\":");
    fw_str_put_u32(&out, sample->free_heap);
    fw_str_put(&out, ",\"uptime\":");
    fw_str_put_u32(&out, sample->uptime_s);
    fw_str_put(&out, sample->led_on ? ",\"led\":true}}" : ",\"led\":false}}");
    return fw_str_ok(&out) && out.len <= INT_MAX ? (int)out.len : -1;
}

/* Whether a value's raw text is exactly `text`. */
static bool value_is(const struct fw_json_value *v, const char *text)
{
    return v->len == strlen(text) && memcmp(v->text, text, v->len) == 0;
}

/* "on"/"off" as the README's example sends it, or a JSON boolean. */
static int parse_led(const struct fw_json_value *v, bool *on)
{
    if (value_is(v, "true") || value_is(v, "\"on\""))
        *on = true;
    else if (value_is(v, "false") || value_is(v, "\"off\""))
        *on = false;
    else
        return -1;
    return 0;
}

static int parse_interval(const struct fw_json_value *v, uint32_t *seconds)
{
    uint32_t s;

    if (fw_json_uint32(v, &s) != FW_JSON_OK || s < APP_INTERVAL_MIN_S || s > APP_INTERVAL_MAX_S)
        return -1;
    *seconds = s;
    return 0;
}

int app_parse_config(const char *json, size_t len, struct app_settings *settings)
{
    struct app_settings next = *settings;
    struct fw_json_value v;
    enum fw_json_result rc;

    /* fw_json_get() validates the whole document: a non-object or broken text is INVALID. */
    rc = fw_json_get(json, len, "led", &v);
    if (rc == FW_JSON_INVALID || (rc == FW_JSON_OK && parse_led(&v, &next.led_on) != 0))
        return -1;
    rc = fw_json_get(json, len, "telemetry_interval", &v);
    if (rc == FW_JSON_INVALID || (rc == FW_JSON_OK && parse_interval(&v, &next.telemetry_interval_s) != 0))
        return -1;
    *settings = next;
    return 0;
}

int app_apply_config(void *user_data, uint32_t cfgsn, const char *data, size_t len)
{
    struct app_state *state = user_data;

    (void)cfgsn;
    if (app_parse_config(data, len, &state->settings) != 0)
        return -1;
    state->changed = true;
    return 0;
}

uint32_t app_sleep_ms(uint64_t now, uint64_t fw_wake, uint64_t next_reading, uint32_t max_ms)
{
    uint64_t until = fw_wake < next_reading ? fw_wake : next_reading;

    if (until <= now)
        return 0;
    return until - now > max_ms ? max_ms : (uint32_t)(until - now);
}
