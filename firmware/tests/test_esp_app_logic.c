/* test_esp_app_logic.c: the ESP8266 application's SDK-free logic on the host: MAC to device id,
 * hex keys per envelope version, the reading's JSON, the configuration it applies, the loop's sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "app_logic.h"
#include "fw_client.h"
#include "fw_json.h"
#include "fw_script.h"

#define KEY16 "000102030405060708090a0b0c0d0e0f"

static void test_device_id_from_mac(void **state)
{
    static const uint8_t mac[6] = {0x5c, 0xcf, 0x7f, 0x00, 0x0a, 0xff};
    char id[APP_DEVICE_ID_LEN + 4];

    (void)state;
    memset(id, 'x', sizeof id);
    assert_int_equal(app_format_device_id(mac, id, APP_DEVICE_ID_LEN), 0);
    assert_string_equal(id, "5C:CF:7F:00:0A:FF");
    assert_int_equal(strlen(id) + 1, APP_DEVICE_ID_LEN);
    /* One byte short of the NUL is refused, untouched past the buffer. */
    memset(id, 'x', sizeof id);
    assert_int_equal(app_format_device_id(mac, id, APP_DEVICE_ID_LEN - 1), -1);
    assert_int_equal(id[0], 'x');
}

static void test_key_v2(void **state)
{
    struct fw_envelope_key key;
    size_t i;

    (void)state;
    assert_int_equal(app_parse_key(KEY16, FW_ENVELOPE_V2, &key), 0);
    assert_int_equal(key.version, FW_ENVELOPE_V2);
    assert_int_equal(key.key_len, 16);
    for (i = 0; i < 16; i++)
        assert_int_equal(key.key[i], i);
    /* Either case of hex digits. */
    assert_int_equal(app_parse_key("A0B1C2D3E4F5a6b7c8d9eAfB0C1d2E3f", FW_ENVELOPE_V2, &key), 0);
    assert_int_equal(key.key[0], 0xa0);
    assert_int_equal(key.key[10], 0xea);
    assert_int_equal(key.key[11], 0xfb);
    assert_int_equal(key.key[15], 0x3f);
}

static void test_key_v1_lengths(void **state)
{
    static const char key24[] = KEY16 "1011121314151617";
    static const char key32[] = KEY16 "101112131415161718191a1b1c1d1e1f";
    struct fw_envelope_key key;

    (void)state;
    assert_int_equal(app_parse_key(KEY16, FW_ENVELOPE_V1, &key), 0);
    assert_int_equal(key.key_len, 16);
    assert_int_equal(app_parse_key(key24, FW_ENVELOPE_V1, &key), 0);
    assert_int_equal(key.key_len, 24);
    assert_int_equal(key.key[23], 0x17);
    assert_int_equal(app_parse_key(key32, FW_ENVELOPE_V1, &key), 0);
    assert_int_equal(key.key_len, 32);
    assert_int_equal(key.key[31], 0x1f);
    /* v2 is AES-128-GCM only. */
    assert_int_equal(app_parse_key(key24, FW_ENVELOPE_V2, &key), -1);
    assert_int_equal(app_parse_key(key32, FW_ENVELOPE_V2, &key), -1);
}

static void test_key_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "0",
        "000102030405060708090a0b0c0d0e0",  /* odd */
        "000102030405060708090a0b0c0d0e",   /* 15 bytes */
        "000102030405060708090a0b0c0d0e0g", /* not hex */
        "000102030405060708090a0b0c0d0e 0",
        "0x0102030405060708090a0b0c0d0e0f",
        KEY16 "00",       /* 17 bytes */
        KEY16 KEY16 "00", /* longer than any key */
    };
    struct fw_envelope_key key;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&key, 0x55, sizeof key);
        assert_int_equal(app_parse_key(bad[i], FW_ENVELOPE_V1, &key), -1);
        /* A refused key leaves the previous one as it was. */
        assert_int_equal(key.key[0], 0x55);
    }
}

static void test_reading(void **state)
{
    const struct app_sample sample = {1023, 41234, 86400, true};
    const struct app_sample zero = {0, 0, 0, false};
    char buf[FW_READING_MAX];
    struct fw_json_value v, data;
    uint32_t n;
    int len;

    (void)state;
    len = app_build_reading(&sample, buf, sizeof buf);
    assert_string_equal(buf, "{\"data\":{\"adc\":1023,\"heap\":41234,\"uptime\":86400,\"led\":true}}");
    assert_int_equal(len, strlen(buf));
    /* It is what the core takes: a JSON object whose members read back. */
    assert_int_equal(fw_json_get(buf, (size_t)len, "data", &data), FW_JSON_OK);
    assert_int_equal(fw_json_get(data.text, data.len, "heap", &v), FW_JSON_OK);
    assert_int_equal(fw_json_uint32(&v, &n), FW_JSON_OK);
    assert_int_equal(n, 41234);
    len = app_build_reading(&zero, buf, sizeof buf);
    assert_string_equal(buf, "{\"data\":{\"adc\":0,\"heap\":0,\"uptime\":0,\"led\":false}}");
    assert_int_equal(len, strlen(buf));
}

static void test_reading_too_small(void **state)
{
    const struct app_sample sample = {1, 2, 3, false};
    char buf[64];
    int len = app_build_reading(&sample, buf, sizeof buf);

    (void)state;
    assert_true(len > 0);
    /* Exactly enough (with the NUL) fits; a byte less is refused. */
    assert_int_equal(app_build_reading(&sample, buf, (size_t)len + 1), len);
    assert_int_equal(app_build_reading(&sample, buf, (size_t)len), -1);
}

static int parse(const char *json, struct app_settings *s)
{
    return app_parse_config(json, strlen(json), s);
}

static void test_config_applied(void **state)
{
    struct app_settings s = {false, 60};

    (void)state;
    assert_int_equal(parse("{\"led\":\"on\"}", &s), 0);
    assert_true(s.led_on);
    assert_int_equal(s.telemetry_interval_s, 60);
    assert_int_equal(parse("{\"telemetry_interval\":300,\"led\":false}", &s), 0);
    assert_false(s.led_on);
    assert_int_equal(s.telemetry_interval_s, 300);
    assert_int_equal(parse(" { \"led\" : true , \"name\":\"porch\", \"x\":[1,{\"led\":0}] } ", &s), 0);
    assert_true(s.led_on);
    assert_int_equal(parse("{\"led\":\"off\",\"telemetry_interval\":5}", &s), 0);
    assert_false(s.led_on);
    assert_int_equal(s.telemetry_interval_s, APP_INTERVAL_MIN_S);
    assert_int_equal(parse("{\"telemetry_interval\":86400}", &s), 0);
    assert_int_equal(s.telemetry_interval_s, APP_INTERVAL_MAX_S);
}

static void test_config_empty_keeps_settings(void **state)
{
    struct app_settings s = {true, 120};

    (void)state;
    assert_int_equal(parse("{}", &s), 0);
    assert_true(s.led_on);
    assert_int_equal(s.telemetry_interval_s, 120);
}

static void test_config_refused_whole(void **state)
{
    static const char *const bad[] = {
        "null",
        "[]",
        "\"on\"",
        "",
        "{",
        "{\"led\":\"on\"",
        "{\"led\":\"ON\"}",
        "{\"led\":1}",
        "{\"led\":null}",
        "{\"led\":\"o\\u006e\"}",
        "{\"telemetry_interval\":4}",
        "{\"telemetry_interval\":86401}",
        "{\"telemetry_interval\":60.5}",
        "{\"telemetry_interval\":-60}",
        "{\"telemetry_interval\":\"60\"}",
        "{\"telemetry_interval\":4294967296}",
        /* A valid member does not survive an invalid one beside it. */
        "{\"led\":\"off\",\"telemetry_interval\":0}",
        "{\"telemetry_interval\":10,\"led\":\"dim\"}",
        "{\"led\":\"off\",\"led\":\"on\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct app_settings s = {true, 60};

        assert_int_equal(parse(bad[i], &s), -1);
        assert_true(s.led_on);
        assert_int_equal(s.telemetry_interval_s, 60);
    }
}

static void test_config_len_bounds_reading(void **state)
{
    /* Only `len` bytes are read: the text after them is not part of the configuration. */
    static const char text[] = "{\"led\":\"on\"}{\"led\":\"off\"}";
    struct app_settings s = {false, 60};

    (void)state;
    assert_int_equal(app_parse_config(text, 12, &s), 0);
    assert_true(s.led_on);
    assert_int_equal(app_parse_config(text, 11, &s), -1);
}

static void test_sleep(void **state)
{
    (void)state;
    /* The earlier of the two deadlines, relative to now. */
    assert_int_equal(app_sleep_ms(1000, 1500, 4000, 60000), 500);
    assert_int_equal(app_sleep_ms(1000, 9000, 4000, 60000), 3000);
    /* Overdue: no sleep. */
    assert_int_equal(app_sleep_ms(5000, 4000, 9000, 60000), 0);
    assert_int_equal(app_sleep_ms(5000, 5000, 9000, 60000), 0);
    /* Waiting for nothing but the next reading (the core is stopped). */
    assert_int_equal(app_sleep_ms(1000, FW_NEVER, 31000, 60000), 30000);
    /* Capped. */
    assert_int_equal(app_sleep_ms(0, FW_NEVER, UINT64_MAX, 60000), 60000);
    assert_int_equal(app_sleep_ms(0, (uint64_t)UINT32_MAX + 10, UINT64_MAX, UINT32_MAX), UINT32_MAX);
}

/* The application on the core, over the core's scripted platform: the MAC-derived id registers,
 * and configurations from polls reach app_apply_config(); only an applied one counts as applied. */
#define MAC_PATH "/api/devices/5C:CF:7F:00:00:01"
#define MAC_POLL(applied, status, resp)                                                                      \
    {                                                                                                        \
        "GET", MAC_PATH "?cfgsn=" #applied, "\"" #applied "\"", NULL, status, resp, NULL, NULL               \
    }
#define CFG(sn, data) "{\"cfgsn\":" #sn ",\"data\":" data ",\"poll_interval\":30}"

static struct fw_ctx *mac_device(struct script *s, struct app_state *state)
{
    static const uint8_t mac[6] = {0x5c, 0xcf, 0x7f, 0x00, 0x00, 0x01};
    const struct fw_platform plat = script_platform(s);
    const struct fw_app app = {state, app_apply_config, NULL};
    char id[APP_DEVICE_ID_LEN];
    struct fw_config cfg;

    assert_int_equal(app_format_device_id(mac, id, sizeof id), 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.device_id = id;
    cfg.ipaddr = "192.168.1.20";
    cfg.ssid = "home";
    assert_int_equal(app_parse_key(KEY16, FW_ENVELOPE_V2, &cfg.key), 0);
    s->ctx = fw_new(&cfg, &plat, &app);
    assert_non_null(s->ctx);
    return s->ctx;
}

static void test_config_through_core(void **state)
{
    static const struct script_step steps[] = {
        {"POST", MAC_PATH, NULL, "{\"ipaddr\":\"192.168.1.20\",\"ssid\":\"home\"}", 201, NULL, NULL, NULL},
        MAC_POLL(0, 200, CFG(1, "{\"led\":\"on\",\"telemetry_interval\":300}")),
        MAC_POLL(1, 304, NULL),
        /* An admin typo: refused, so the device goes on reporting cfgsn 1 ... */
        MAC_POLL(1, 200, CFG(2, "{\"led\":\"blink\",\"telemetry_interval\":10}")),
        MAC_POLL(1, 200, CFG(2, "{\"led\":\"blink\",\"telemetry_interval\":10}")),
        /* ... until the fix arrives. */
        MAC_POLL(1, 200, CFG(3, "{\"led\":false}")),
        MAC_POLL(3, 304, NULL),
    };
    struct script *s = *state;
    struct app_state app = {{false, 60}, false};

    script_set_steps(s, steps, 3);
    mac_device(s, &app);
    script_run(s);
    /* Applied: the new settings and the flag the device loop acts on. */
    assert_int_equal(fw_applied_cfgsn(s->ctx), 1);
    assert_true(app.settings.led_on);
    assert_int_equal(app.settings.telemetry_interval_s, 300);
    assert_true(app.changed);
    app.changed = false;
    s->n_steps = 5;
    script_run(s);
    /* Refused twice: nothing changed, cfgsn 1 still the applied one. */
    assert_int_equal(fw_applied_cfgsn(s->ctx), 1);
    assert_true(app.settings.led_on);
    assert_int_equal(app.settings.telemetry_interval_s, 300);
    assert_false(app.changed);
    s->n_steps = sizeof steps / sizeof steps[0];
    script_run(s);
    assert_int_equal(fw_applied_cfgsn(s->ctx), 3);
    assert_false(app.settings.led_on);
    assert_int_equal(app.settings.telemetry_interval_s, 300);
    assert_true(app.changed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_id_from_mac),
        cmocka_unit_test(test_key_v2),
        cmocka_unit_test(test_key_v1_lengths),
        cmocka_unit_test(test_key_refused),
        cmocka_unit_test(test_reading),
        cmocka_unit_test(test_reading_too_small),
        cmocka_unit_test(test_config_applied),
        cmocka_unit_test(test_config_empty_keeps_settings),
        cmocka_unit_test(test_config_refused_whole),
        cmocka_unit_test(test_config_len_bounds_reading),
        cmocka_unit_test(test_sleep),
        FW_TEST(test_config_through_core),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
