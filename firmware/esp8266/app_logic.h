/* app_logic.h: what the ESP8266 application decides without touching the SDK: the device id from
 * the MAC, the telemetry key from its hex text, the reading's JSON, the configuration it applies. */
#ifndef APP_LOGIC_H
#define APP_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_envelope.h"

/* "5C:CF:7F:00:00:01" and its NUL. */
#define APP_DEVICE_ID_LEN 18
/* Bounds of the telemetry interval a configuration may set, in seconds. */
#define APP_INTERVAL_MIN_S 5u
#define APP_INTERVAL_MAX_S 86400u

/* What a configuration from the server controls. */
struct app_settings {
    bool led_on;
    uint32_t telemetry_interval_s;
};

/* What the configuration callback changes; the device loop acts on `changed` (LED, schedule)
 * and clears it. */
struct app_state {
    struct app_settings settings;
    bool changed;
};

/* One sample of the device's state, turned into a reading by app_build_reading(). */
struct app_sample {
    uint16_t adc;       /* TOUT pin, 1/1023 V */
    uint32_t free_heap; /* bytes */
    uint32_t uptime_s;
    bool led_on;
};

/* Every function returning int returns 0 (or a length) on success and -1 on failure; on failure
 * nothing is written to the outputs but the text buffers. */

/* The MAC as upper-case hex pairs joined by ':' into out (at least APP_DEVICE_ID_LEN bytes). */
int app_format_device_id(const uint8_t mac[6], char *out, size_t cap);

/* The device key from hex text: 32 digits for v2 (AES-128-GCM); 32, 48 or 64 for v1 (AES-CBC). */
int app_parse_key(const char *hex, enum fw_envelope_version version, struct fw_envelope_key *key);

/* {"data":{"adc":N,"heap":N,"uptime":N,"led":B}} into buf; returns its length. */
int app_build_reading(const struct app_sample *sample, char *buf, size_t cap);

/* The server's configuration `data` (an object; unknown members are ignored):
 *   "led": "on" | "off" | true | false,  "telemetry_interval": APP_INTERVAL_MIN_S..MAX_S.
 * A member that is absent keeps its current value; any invalid member refuses the whole
 * configuration and leaves *settings untouched. */
int app_parse_config(const char *json, size_t len, struct app_settings *settings);

/* struct fw_app's apply_config (user_data: a struct app_state): applies `data` with
 * app_parse_config(). Returns 0 once applied, so the core reports the cfgsn; -1 otherwise. */
int app_apply_config(void *user_data, uint32_t cfgsn, const char *data, size_t len);

/* How long the device loop may sleep at `now`: until the core's next step or the next reading,
 * whichever is first, at most max_ms (all times in ms; fw_wake may be FW_NEVER). */
uint32_t app_sleep_ms(uint64_t now, uint64_t fw_wake, uint64_t next_reading, uint32_t max_ms);

#endif
