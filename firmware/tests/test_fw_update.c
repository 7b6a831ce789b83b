/* test_fw_update.c: firmware updates in the core against scripted transcripts and a scripted
 * flash: the offer validated, the image streamed, resumed after a broken transfer and after a
 * power cut, a server without ranges, a corrupted image never booted, a device that keeps coming
 * back with the old version given up, and the running version reported until the reboot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fw_openssl.h"
#include "fw_script.h"
#include "fw_update.h"

#define IMAGE_LEN  200000u
#define IMAGE_PATH "/api/firmware/2.0"
#define REG_BODY(v) "{\"ipaddr\":\"10.0.0.7\",\"ssid\":\"lab\",\"fw\":\"" v "\"}"
#define REGISTER(v)                                                                                          \
    {                                                                                                        \
        "POST", SCRIPT_DEV_PATH, NULL, REG_BODY(v), 201, NULL, NULL, NULL                                    \
    }
#define POLL(v, status, resp)                                                                                \
    {                                                                                                        \
        "GET", SCRIPT_DEV_PATH "?cfgsn=0&fw=" v, "\"0\"", NULL, status, resp, NULL, NULL                     \
    }
/* A device on 1.0 registers and is offered the image (the poll answer in `offer`). */
#define OFFERED REGISTER("1.0"), POLL("1.0", 200, offer)
#define IMAGE_GET(range, status, stream)                                                                     \
    {                                                                                                        \
        "GET", IMAGE_PATH, NULL, NULL, status, NULL, range, stream                                           \
    }

#define OFFER_MAX 600

/* The whole image in one answer. */
static const struct script_stream whole = {200, -1, 0, IMAGE_LEN};

static void hex(const uint8_t *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* The "firmware" member for the served image (its SHA-256 taken now), into buf. */
static void offer_member(const struct script *s, const char *url, char *buf, size_t cap)
{
    struct fw_bytes part = {s->served, s->served_len};
    uint8_t sum[32];
    char sha[65];

    assert_int_equal(fw_openssl_sha256(NULL, &part, 1, sum), 0);
    hex(sum, sizeof sum, sha);
    snprintf(buf, cap,
             "{\"version\":\"2.0\",\"url\":\"%s\",\"size\":%zu,\"sha256\":\"%s\","
             "\"md5\":\"0123456789abcdef0123456789abcdef\"}",
             url, s->served_len, sha);
}

/* The sealed poll answer of a signing device: configuration 0 with the offer inside it. */
static void sealed_offer_body(const struct script *s, char *buf, size_t cap)
{
    char member[400], plain[600];

    offer_member(s, IMAGE_PATH, member, sizeof member);
    snprintf(plain, sizeof plain, "{\"cfgsn\":0,\"data\":{},\"poll_interval\":60,\"epoch\":0,\"firmware\":%s}", member);
    script_sealed_answer(0, 0, plain, buf, cap);
}

/* A poll answer: configuration 0 and the offer of the served image. */
static void offer_body(const struct script *s, char *buf, size_t cap)
{
    char member[400];

    offer_member(s, IMAGE_PATH, member, sizeof member);
    snprintf(buf, cap, "{\"cfgsn\":0,\"data\":{},\"poll_interval\":60,\"firmware\":%s}", member);
}

/* The device runs 1.0 and the server has the image; offer: the poll answer offering it. */
static void offer_image(struct script *s, char *offer)
{
    script_enable_updates(s, "1.0", IMAGE_LEN);
    offer_body(s, offer, OFFER_MAX);
}

static uint32_t record_offset(const struct script *s)
{
    const uint8_t *p = s->update_record + 24;

    assert_int_equal(s->update_record_len, FW_UPDATE_RECORD_LEN);
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void assert_booted_image(const struct script *s)
{
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REBOOTING);
    assert_int_equal(fw_step(s->ctx, s->now + 3600000), FW_NEVER);
    assert_int_equal(s->flash_len, IMAGE_LEN);
    assert_memory_equal(s->flash, s->served, IMAGE_LEN);
}

static void test_update_downloaded_verified_booted(void **state)
{
    struct script *s = *state;
    char offer[OFFER_MAX];
    struct script_step steps[] = {
        OFFERED,
        IMAGE_GET(NULL, 200, &whole),
    };
    struct script_step after[] = {
        REGISTER("2.0"),
        POLL("2.0", 304, NULL),
    };

    offer_image(s, offer);
    script_play(s, steps, 3);
    assert_string_equal(fw_running_version(s->ctx), "1.0"); /* not the new one before the reboot */
    assert_booted_image(s);
    assert_int_equal(s->boots, 1);
    assert_int_equal(s->events[FW_EV_UPDATE_BOOTING], 1);
    /* The reboot: the platform now runs 2.0, and only now is it reported. */
    strcpy(s->running, "2.0");
    script_set_steps(s, after, 2);
    script_reboot(s);
    script_run(s);
    assert_int_equal(s->boots, 1);
}

static void test_interrupted_download_resumed(void **state)
{
    struct script *s = *state;
    static const struct script_stream head = {200, -1, 0, 70000}, rest = {206, 70000, 70000, IMAGE_LEN};
    char offer[OFFER_MAX];
    struct script_step steps[] = {
        OFFERED,
        IMAGE_GET(NULL, FW_HTTP_NETWORK_ERROR, &head),
        IMAGE_GET("bytes=70000-", 206, &rest),
    };

    offer_image(s, offer);
    script_play(s, steps, 4);
    assert_booted_image(s);
    assert_int_equal(s->started_at[3] - s->started_at[2] >= 500, 1); /* after a backoff */
    assert_int_equal(s->begins, 1);
    assert_int_equal(record_offset(s), IMAGE_LEN);
}

/* Starts the steps and serves them until the last request is out, its answer not yet given. */
static void run_until_last_request(struct script *s, const struct script_step *steps, size_t n)
{
    int guard;

    script_start(s, steps, n);
    for (guard = 0; guard < 1000 && s->next < n; guard++) {
        uint64_t wake = fw_step(s->ctx, s->now);

        if (s->answer_pending) {
            s->answer_pending = false;
            assert_int_equal(fw_http_done(s->ctx, &s->answer), 0);
        } else {
            s->now = wake;
        }
    }
    assert_int_equal(s->next, n);
}

static void test_power_cut_resumes_from_record(void **state)
{
    struct script *s = *state;
    static const struct script_stream head = {200, -1, 0, 150000},
                                      rest = {206, 131072, 131072, IMAGE_LEN};
    char offer[OFFER_MAX];
    struct script_step steps[] = {
        OFFERED,
        IMAGE_GET(NULL, 200, &head),
    };
    struct script_step after[] = {
        OFFERED,
        IMAGE_GET("bytes=131072-", 206, &rest),
    };

    offer_image(s, offer);
    s->sector = 4096;
    run_until_last_request(s, steps, 3);
    /* Power cut with 150000 bytes in flash: the record holds the last multiple of the save step. */
    assert_int_equal(s->flash_len, 150000);
    assert_int_equal(record_offset(s), 2 * FW_UPDATE_SAVE_EVERY);
    assert_int_equal(s->boots, 0);
    script_set_steps(s, after, 3);
    script_reboot(s);
    script_run(s);
    assert_booted_image(s);
    assert_int_equal(s->boots, 1);
    assert_int_equal(s->finishes, 1);
}

static void test_server_without_ranges(void **state)
{
    struct script *s = *state;
    static const struct script_stream head = {200, -1, 0, 70000};
    char offer[OFFER_MAX];
    struct script_step steps[] = {
        OFFERED,
        IMAGE_GET(NULL, FW_HTTP_NETWORK_ERROR, &head),
        /* The Range is ignored: the whole image comes again and the stored part is skipped. */
        IMAGE_GET("bytes=70000-", 200, &whole),
    };

    offer_image(s, offer);
    script_play(s, steps, 4);
    assert_booted_image(s);
}

static void test_range_answer_past_stored_part_refused(void **state)
{
    struct script *s = *state;
    static const struct script_stream head = {200, -1, 0, 70000}, gap = {206, 80000, 80000, IMAGE_LEN},
                                      rest = {206, 70000, 70000, IMAGE_LEN};
    char offer[OFFER_MAX];
    struct script_step steps[] = {
        OFFERED,
        IMAGE_GET(NULL, FW_HTTP_NETWORK_ERROR, &head),
        IMAGE_GET("bytes=70000-", FW_HTTP_NETWORK_ERROR, &gap), /* refused: the host cuts it */
        IMAGE_GET("bytes=70000-", 206, &rest),
    };

    offer_image(s, offer);
    script_play(s, steps, 5);
    assert_booted_image(s);
}

static void test_corrupted_image_never_booted(void **state)
{
    struct script *s = *state;
    char offer[OFFER_MAX];
    struct script_step steps[] = {
        OFFERED,
        IMAGE_GET(NULL, 200, &whole),
        IMAGE_GET(NULL, 200, &whole), /* from the start again */
        IMAGE_GET(NULL, 200, &whole),
        POLL("1.0", 200, offer), /* still the old version; given up: no more downloads */
        POLL("1.0", 304, NULL),
    };

    offer_image(s, offer);
    s->served[1000] ^= 0x01; /* altered on the wire after the offer was made */
    script_play(s, steps, 7);
    assert_int_equal(s->finishes, FW_UPDATE_MAX_TRIES);
    assert_int_equal(s->boots, 0);
    assert_int_equal(s->events[FW_EV_UPDATE_FAILED], FW_UPDATE_MAX_TRIES);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REGISTERED);
    assert_string_equal(fw_running_version(s->ctx), "1.0");
}

static void test_old_version_after_reboot_given_up(void **state)
{
    struct script *s = *state;
    char offer[OFFER_MAX];
    struct script_step first[] = {
        OFFERED,
        IMAGE_GET(NULL, 200, &whole),
    };
    /* Back on 1.0 (the boot of 2.0 failed): the stored image is verified and booted again, no
     * download, until the tries are used up. */
    struct script_step again[] = {
        OFFERED,
    };
    struct script_step last[] = {
        OFFERED,
        POLL("1.0", 200, offer),
    };
    unsigned boot;

    offer_image(s, offer);
    script_play(s, first, 3);
    for (boot = 2; boot <= FW_UPDATE_MAX_TRIES; boot++) {
        script_set_steps(s, again, 2);
        script_reboot(s);
        script_run(s);
        assert_int_equal(fw_step(s->ctx, s->now), FW_NEVER);
        assert_int_equal(fw_get_state(s->ctx), FW_STATE_REBOOTING);
        assert_int_equal(s->boots, boot);
    }
    script_set_steps(s, last, 3);
    script_reboot(s);
    script_run(s);
    assert_int_equal(s->boots, FW_UPDATE_MAX_TRIES);
    assert_int_equal(fw_get_state(s->ctx), FW_STATE_REGISTERED);
}

/* A signing device takes the offer from its sealed configuration only, and signs the image GET. */
static void test_signing_device_sealed_offer_signed_download(void **state)
{
    struct script *s = *state;
    char sealed[2048], unsealed[2048], member[400], want[FW_AUTH_PROOF_MAX + 1];
    struct script_step steps[] = {
        REGISTER("1.0"),
        /* An offer beside the sealed configuration, where anyone on the wire could put one: ignored. */
        {"GET", SCRIPT_DEV_PATH "?cfgsn=0&fw=1.0", NULL, NULL, 200, unsealed, NULL, NULL},
        POLL("1.0", 200, sealed),
        IMAGE_GET(NULL, 200, &whole),
    };
    size_t n;

    script_enable_updates(s, "1.0", IMAGE_LEN);
    s->sign = true;
    s->server_time = 1764000000;
    sealed_offer_body(s, sealed, sizeof sealed);
    script_sealed_answer(0, 0, "{\"cfgsn\":0,\"data\":{},\"poll_interval\":60,\"epoch\":0}", unsealed, sizeof unsealed);
    offer_member(s, IMAGE_PATH, member, sizeof member);
    n = strlen(unsealed);
    snprintf(unsealed + n - 1, sizeof unsealed - n + 1, ",\"firmware\":%s}", member);
    script_play(s, steps, 4);
    assert_booted_image(s);
    assert_true(s->started_at[2] - s->started_at[1] >= 60000); /* no download after the first poll */
    /* Signed at the server's time, as the last answer (the sealed poll) told it. */
    script_expected_proof("GET", IMAGE_PATH, "", 1764000000 + (long long)(s->started_at[3] - s->started_at[2]) / 1000,
                          want, sizeof want);
    assert_string_equal(s->proof[3], want);
}

static void test_malformed_offer_ignored_config_applied(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        REGISTER("1.0+b7"),
        {"GET", SCRIPT_DEV_PATH "?cfgsn=0&fw=1.0%2Bb7", "\"0\"", NULL, 200,
         "{\"cfgsn\":2,\"data\":{\"x\":1},\"firmware\":{\"version\":\"2.0\",\"url\":\"http://evil.example/x\","
         "\"size\":10,\"sha256\":\"00\",\"md5\":\"00\"}}",
         NULL, NULL},
        {"GET", SCRIPT_DEV_PATH "?cfgsn=2&fw=1.0%2Bb7", "\"2\"", NULL, 304, NULL, NULL, NULL},
    };

    script_enable_updates(s, "1.0+b7", 16);
    script_play(s, steps, 3);
    assert_int_equal(fw_applied_cfgsn(s->ctx), 2);
    assert_int_equal(s->begins, 0);
}

/* The offer's fields, one bad value at a time. */
#define SHA ",\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
#define MD5 ",\"md5\":\"0123456789ABCDEF0123456789abcdef\""
#define OFFER(version, url, size) "{\"version\":\"" version "\",\"url\":\"" url "\",\"size\":" size

static void test_offer_validation(void **state)
{
    static const struct {
        const char *json;
        int rc;
        const char *path;
    } cases[] = {
        {OFFER("2.0", "/api/firmware/2.0", "5") SHA MD5 "}", 0, "/api/firmware/2.0"},
        {OFFER("2.0", "HTTP://Srv:8080/fw/2.0?x=1", "5") SHA MD5 "}", 0, "/fw/2.0?x=1"},
        {OFFER("2.0", "http://other:8080/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "http://srv:80800/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "//evil/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/a/../secret", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/a/..", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/a b", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "\\/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2 0", "/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("", "/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("123456789012345678901234567890123", "/fw", "5") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/fw", "0") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/fw", "16777217") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/fw", "-1") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/fw", "\"5\"") SHA MD5 "}", -1, NULL},
        {OFFER("2.0", "/fw", "5") SHA "}", -1, NULL},
        {OFFER("2.0", "/fw", "5") ",\"sha256\":\"0g\"" MD5 "}", -1, NULL},
        {OFFER("2.0", "/fw", "5") SHA ",\"md5\":\"0123\"}", -1, NULL},
    };
    char path[FW_IMAGE_PATH_MAX + 1];
    struct fw_image img;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *json = cases[i].json;
        int rc = fw_update_parse_offer(json, strlen(json), "http://srv:8080", &img, path, sizeof path);

        print_message("# offer %zu: %s\n", i, json);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            assert_string_equal(path, cases[i].path);
            assert_string_equal(img.version, "2.0");
            assert_int_equal(img.size, 5);
            assert_int_equal(img.sha256[1], 0x11);
        }
    }
    /* Without a server, an absolute URL is never taken. */
    assert_int_equal(fw_update_parse_offer(cases[1].json, strlen(cases[1].json), NULL, &img, path, sizeof path), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FW_TEST(test_update_downloaded_verified_booted),
        FW_TEST(test_interrupted_download_resumed),
        FW_TEST(test_power_cut_resumes_from_record),
        FW_TEST(test_server_without_ranges),
        FW_TEST(test_range_answer_past_stored_part_refused),
        FW_TEST(test_corrupted_image_never_booted),
        FW_TEST(test_old_version_after_reboot_given_up),
        FW_TEST(test_signing_device_sealed_offer_signed_download),
        FW_TEST(test_malformed_offer_ignored_config_applied),
        cmocka_unit_test(test_offer_validation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
