/* test_fw_client.c: the firmware core's protocol against scripted HTTP transcripts: registration,
 * polling and 304, configuration apply, backoff on 500/429/network errors, 404 re-registration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "fw_script.h"

#define CFG_BODY(sn, interval)                                                                               \
    "{\"cfgsn\":" #sn ",\"data\":{\"led\":\"on\",\"rate\":[1,2]},\"poll_interval\":" #interval "}"

static void test_register_then_unchanged(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_POLL(0, 304, NULL),
    };

    script_start(s, steps, 3);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_UNREGISTERED);
    script_run(s);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REGISTERED);
    assert_int_equal(s->started_at[1], s->started_at[0]);         /* polls at once */
    assert_int_equal(s->started_at[2] - s->started_at[1], 60000); /* the default interval */
    assert_int_equal(s->events[FW_EV_REGISTERED], 1);
    assert_int_equal(s->events[FW_EV_POLL_UNCHANGED], 2);
    assert_int_equal(s->apply_calls, 0);
    /* Between polls it asks to be woken at the next one, not before. */
    assert_int_equal(fw_step(s->ctx, s->now + 10), s->now + 60000);
}

static void test_register_known_device(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        {"POST", SCRIPT_DEV_PATH, NULL, NULL, 200, "{\"deviceid\":\"" SCRIPT_DEVICE_ID "\",\"cfgsn\":4}", NULL, NULL},
        SCRIPT_POLL(0, 304, NULL),
    };

    script_play(s, steps, 2);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REGISTERED);
    assert_int_equal(s->events[FW_EV_REGISTERED], 1);
}

static void test_register_refused(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        {"POST", SCRIPT_DEV_PATH, NULL, NULL, 403, "{\"status\":\"NOK\",\"message\":\"rejected\"}", NULL, NULL},
    };

    script_play(s, steps, 1);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REFUSED);
    assert_int_equal(s->events[FW_EV_REFUSED], 1);
    assert_int_equal(fw_step(s->ctx, s->now + 3600000), FW_NEVER);
    assert_int_equal(s->next, 1); /* and nothing more was sent */
}

static void test_config_applied(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, CFG_BODY(3, 30)),
        SCRIPT_POLL(3, 304, NULL),
    };

    script_play(s, steps, 3);
    assert_int_equal(s->apply_calls, 1);
    assert_int_equal(s->applied_cfgsn[0], 3);
    assert_string_equal(s->applied_data[0], "{\"led\":\"on\",\"rate\":[1,2]}");
    assert_int_equal(fw_applied_cfgsn(s->ctx), 3);
    assert_int_equal(s->started_at[2] - s->started_at[1], 30000); /* the server's interval */
    assert_int_equal(s->events[FW_EV_CONFIG_APPLIED], 1);
}

static void test_config_failed_not_reported(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, CFG_BODY(3, 30)),
        SCRIPT_POLL(0, 200, CFG_BODY(3, 30)), /* still reports 0: the apply failed */
        SCRIPT_POLL(3, 304, NULL),
    };

    s->apply_rc[0] = -1;
    script_play(s, steps, 4);
    assert_int_equal(s->apply_calls, 2);
    assert_int_equal(s->events[FW_EV_CONFIG_FAILED], 1);
    assert_int_equal(s->events[FW_EV_CONFIG_APPLIED], 1);
    assert_int_equal(fw_applied_cfgsn(s->ctx), 3);
}

static void test_config_not_newer_ignored(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":0,\"data\":{},\"poll_interval\":5}"),
        SCRIPT_POLL(0, 304, NULL),
    };

    script_play(s, steps, 3);
    assert_int_equal(s->apply_calls, 0);
    assert_int_equal(s->events[FW_EV_POLL_OK], 1);
    assert_int_equal(s->started_at[2] - s->started_at[1], 5000);
}

static void test_poll_interval_bounded(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":0,\"poll_interval\":0}"),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":0,\"poll_interval\":4000000000}"),
        SCRIPT_POLL(0, 304, NULL),
    };

    script_play(s, steps, 4);
    assert_int_equal(s->started_at[2] - s->started_at[1], 1000);     /* at least 1 s */
    assert_int_equal(s->started_at[3] - s->started_at[2], 86400000); /* at most a day */
}

/* Asserts that the gaps before steps first..last-1's retries follow the backoff: each within
 * [d/2, d] for d = 1 s doubling up to 300 s. Returns the gaps' sum, to compare runs. */
static uint64_t check_backoff(const struct script *s, size_t first, size_t retries)
{
    uint64_t sum = 0, d = 1000;
    size_t i;

    for (i = 0; i < retries; i++) {
        uint64_t gap = s->started_at[first + i + 1] - s->started_at[first + i];

        assert_in_range(gap, d / 2, d);
        sum += gap;
        d = d * 2 > 300000 ? 300000 : d * 2;
    }
    return sum;
}

static void test_backoff_on_500(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(500),      SCRIPT_REGISTER(502), SCRIPT_REGISTER(503), SCRIPT_REGISTER(500),
        SCRIPT_REGISTER(500),      SCRIPT_REGISTER(500), SCRIPT_REGISTER(500), SCRIPT_REGISTER(500),
        SCRIPT_REGISTER(500),      SCRIPT_REGISTER(500), SCRIPT_REGISTER(500), SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
    };
    uint64_t first_run;

    script_play(s, steps, 13);
    /* 11 retries: 1, 2, 4 ... 256 s, then capped at 300 s. */
    first_run = check_backoff(s, 0, 11);
    assert_in_range(s->started_at[11] - s->started_at[10], 150000, 300000);
    assert_int_equal(s->events[FW_EV_RETRY], 11);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REGISTERED);

    /* Jitter: the same failures with another RNG seed wait differently. */
    fw_free(s->ctx);
    script_init(s, 12345);
    script_play(s, steps, 13);
    assert_int_not_equal(check_backoff(s, 0, 11), first_run);
}

static void test_backoff_on_429_and_network_errors(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(SCRIPT_START_FAILS), SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 429, NULL),           SCRIPT_POLL(0, FW_HTTP_NETWORK_ERROR, NULL),
        SCRIPT_POLL(0, 429, NULL),           SCRIPT_POLL(0, 304, NULL),
        SCRIPT_POLL(0, 304, NULL),
    };

    script_play(s, steps, 7);
    check_backoff(s, 0, 1);
    /* Registration does not end the run of failures: polls go on backing off from there. */
    assert_in_range(s->started_at[3] - s->started_at[2], 1000, 2000);
    assert_in_range(s->started_at[4] - s->started_at[3], 2000, 4000);
    assert_in_range(s->started_at[5] - s->started_at[4], 4000, 8000);
    /* A success ends it: the next poll is a plain interval later. */
    assert_int_equal(s->started_at[6] - s->started_at[5], 60000);
    assert_int_equal(s->events[FW_EV_RETRY], 4);
}

static void test_unknown_device_registers_again(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, CFG_BODY(2, 10)),
        SCRIPT_POLL(2, 404, "{\"status\":\"NOK\",\"message\":\"Device NOT Registered\"}"),
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(2, 304, NULL),
    };

    script_play(s, steps, 5);
    assert_int_equal(s->events[FW_EV_REGISTERED], 2);
    assert_int_equal(fw_applied_cfgsn(s->ctx), 2);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REGISTERED);
}

static void test_malformed_poll_retried(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":\"7\",\"data\":{}}"),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":7,\"data\":{},\"cfgsn\":8}"),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":7,\"data\":{"),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":7,\"poll_interval\":-1}"),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":7,\"poll_interval\":5,\"poll_interval\":6}"),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":7,\"data\":{\"a\":1}}"),
    };

    script_play(s, steps, 7);
    assert_int_equal(s->events[FW_EV_RETRY], 5);
    assert_int_equal(s->apply_calls, 1);
    assert_string_equal(s->applied_data[0], "{\"a\":1}");
}

static void test_config_too_large_retried(void **state)
{
    struct script *s = *state;
    static char big[FW_RX_MAX + 64];
    struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, big),
        SCRIPT_POLL(0, 200, "{\"cfgsn\":1,\"data\":null}"),
    };

    memset(big, ' ', sizeof big - 1);
    memcpy(big, "{\"cfgsn\":1,\"data\":\"", 19);
    memcpy(big + sizeof big - 3, "\"}", 2);
    script_play(s, steps, 3);
    assert_int_equal(s->events[FW_EV_RETRY], 1);
    assert_int_equal(s->apply_calls, 1);
    assert_string_equal(s->applied_data[0], "null");
}

static void test_synchronous_host(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 200, CFG_BODY(1, 20)),
        SCRIPT_POLL(1, 304, NULL),
    };
    uint64_t wake;

    s->sync = true;
    script_start(s, steps, 3);
    /* One step registers and polls: the answers arrive inside http_start(). */
    wake = fw_step(s->ctx, s->now);
    assert_int_equal(s->next, 2);
    assert_int_equal(wake, s->now + 20000);
    assert_int_equal(fw_applied_cfgsn(s->ctx), 1);
    s->now = wake;
    fw_step(s->ctx, s->now);
    assert_int_equal(s->next, 3);
}

static void test_synchronous_host_bounded_step(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(409),
        SCRIPT_TELEMETRY(201),
    };

    s->sync = true;
    script_start(s, steps, 4);
    assert_int_equal(fw_submit_reading(s->ctx, "{}", 2), 0);
    /* Four requests are due at once: one step does a bounded amount and asks to be called
     * again right away, with the last answer not yet handled. */
    assert_int_equal(fw_step(s->ctx, s->now), s->now);
    assert_int_equal(s->next, 4);
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 0);
    assert_int_equal(fw_step(s->ctx, s->now), s->now + 60000);
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 1);
}

static void test_rejects_bad_config(void **state)
{
    struct script *s = *state;
    struct fw_platform plat = script_platform(s);
    struct fw_app app = script_app(s);
    struct fw_config cfg = {"bad/id", "10.0.0.7", "lab", {FW_ENVELOPE_V2, {0}, 16}, 0, 0, 0, NULL};

    assert_null(fw_new(&cfg, &plat, &app));
    cfg.device_id = "";
    assert_null(fw_new(&cfg, &plat, &app));
    cfg.device_id = "ok-id";
    cfg.key.key_len = 32; /* v2 is AES-128 only */
    assert_null(fw_new(&cfg, &plat, &app));
    cfg.key.version = FW_ENVELOPE_V1;
    cfg.ssid = "a-very-long-ssid-that-no-access-point-has";
    assert_null(fw_new(&cfg, &plat, &app));
    cfg.ssid = "lab";
    plat.aes_gcm_encrypt = NULL;
    assert_null(fw_new(&cfg, &plat, &app));
    plat = script_platform(s);
    cfg.sign = 1; /* signing needs SHA-256 and AES-GCM decryption */
    plat.sha256 = NULL;
    assert_null(fw_new(&cfg, &plat, &app));
    plat = script_platform(s);
    plat.aes_gcm_decrypt = NULL;
    assert_null(fw_new(&cfg, &plat, &app));
    plat = script_platform(s);
    s->ctx = fw_new(&cfg, &plat, &app);
    assert_non_null(s->ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FW_TEST(test_register_then_unchanged),
        FW_TEST(test_register_known_device),
        FW_TEST(test_register_refused),
        FW_TEST(test_config_applied),
        FW_TEST(test_config_failed_not_reported),
        FW_TEST(test_config_not_newer_ignored),
        FW_TEST(test_poll_interval_bounded),
        FW_TEST(test_backoff_on_500),
        FW_TEST(test_backoff_on_429_and_network_errors),
        FW_TEST(test_unknown_device_registers_again),
        FW_TEST(test_malformed_poll_retried),
        FW_TEST(test_config_too_large_retried),
        FW_TEST(test_synchronous_host),
        FW_TEST(test_synchronous_host_bounded_step),
        FW_TEST(test_rejects_bad_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
