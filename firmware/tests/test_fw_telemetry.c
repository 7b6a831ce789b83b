/* test_fw_telemetry.c: the firmware core's telemetry: v2 and v1 envelopes opened here with OpenSSL,
 * SEQN persistence across a simulated reboot, replay (409) handling, refusals and retries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "fw_script.h"

#define READING "{\"data\":{\"value\":300}}"

/* Standard base64 via OpenSSL; returns the decoded length. */
static size_t b64_decode(const char *in, uint8_t *out, size_t cap)
{
    size_t n = strlen(in);
    int len;

    assert_true(n % 4 == 0 && n / 4 * 3 <= cap);
    len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    assert_true(len >= 0);
    if (n > 0 && in[n - 1] == '=')
        len--;
    if (n > 1 && in[n - 2] == '=')
        len--;
    return (size_t)len;
}

/* Opens a v2 body {"v":2,"nonce":...,"data":...}; returns 0, or -1 if authentication fails. */
static int open_v2(const char *body, const char *aad, char *plain, size_t cap)
{
    char nonce_b64[64], data_b64[FW_TX_MAX];
    uint8_t key[16], nonce[48], data[FW_TX_MAX];
    size_t nonce_len, data_len;
    int consumed = 0, n = 0, fin = 0, ok;
    EVP_CIPHER_CTX *c;

    assert_int_equal(sscanf(body, "{\"v\":2,\"nonce\":\"%63[^\"]\",\"data\":\"%1023[^\"]\"}%n", nonce_b64,
                            data_b64, &consumed),
                     2);
    assert_int_equal(consumed, strlen(body));
    nonce_len = b64_decode(nonce_b64, nonce, sizeof nonce);
    data_len = b64_decode(data_b64, data, sizeof data);
    assert_int_equal(nonce_len, 12);
    assert_true(data_len >= 16 && data_len - 16 < cap);
    script_key(key, sizeof key);
    c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    ok = EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce) == 1 &&
         EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(c, (uint8_t *)plain, &n, data, (int)data_len - 16) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, data + data_len - 16) == 1 &&
         EVP_DecryptFinal_ex(c, (uint8_t *)plain + n, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    plain[ok ? n + fin : 0] = '\0';
    return ok ? 0 : -1;
}

/* Opens a v1 body {"iv":...,"data":...} with PKCS#7 checked by OpenSSL. */
static void open_v1(const char *body, size_t key_len, char *plain, size_t cap)
{
    char iv_b64[64], data_b64[FW_TX_MAX];
    uint8_t key[32], iv[48], data[FW_TX_MAX];
    size_t iv_len, data_len;
    int consumed = 0, n = 0, fin = 0, ok;
    EVP_CIPHER_CTX *c;
    const EVP_CIPHER *cipher = key_len == 16   ? EVP_aes_128_cbc()
                               : key_len == 24 ? EVP_aes_192_cbc()
                                               : EVP_aes_256_cbc();

    assert_int_equal(
        sscanf(body, "{\"iv\":\"%63[^\"]\",\"data\":\"%1023[^\"]\"}%n", iv_b64, data_b64, &consumed), 2);
    assert_int_equal(consumed, strlen(body));
    iv_len = b64_decode(iv_b64, iv, sizeof iv);
    data_len = b64_decode(data_b64, data, sizeof data);
    assert_int_equal(iv_len, 16);
    assert_true(data_len % 16 == 0 && data_len > 0 && data_len < cap);
    script_key(key, key_len);
    c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    ok = EVP_DecryptInit_ex(c, cipher, NULL, key, iv) == 1 &&
         EVP_DecryptUpdate(c, (uint8_t *)plain, &n, data, (int)data_len) == 1 &&
         EVP_DecryptFinal_ex(c, (uint8_t *)plain + n, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    assert_true(ok);
    plain[n + fin] = '\0';
    /* PKCS#7 always pads: a whole block when the plaintext fills its last one. */
    assert_int_equal(data_len, ((size_t)(n + fin) / 16 + 1) * 16);
}

/* The SEQN of a v2 body, checking that the plaintext is `reading` with SEQN appended. */
static unsigned long sent_seqn(const char *body, const char *reading)
{
    char plain[FW_TX_MAX], expect[FW_TX_MAX];
    unsigned long seqn;
    const char *at;

    assert_int_equal(open_v2(body, SCRIPT_DEVICE_ID, plain, sizeof plain), 0);
    at = strstr(plain, "\"SEQN\":");
    assert_non_null(at);
    seqn = strtoul(at + 7, NULL, 10);
    snprintf(expect, sizeof expect, "%.*s,\"SEQN\":%lu}", (int)strlen(reading) - 1, reading, seqn);
    assert_string_equal(plain, expect);
    return seqn;
}

/* Submits `reading` and serves one more transcript step (the telemetry POST). */
static void send_one(struct script *s, const char *reading)
{
    assert_int_equal(fw_submit_reading(s->ctx, reading, strlen(reading)), 0);
    s->n_steps++;
    script_run(s);
}

/* A v2 device with READING to send, run through the transcript. */
static void play_with_reading(struct script *s, const struct script_step *steps, size_t n)
{
    script_start(s, steps, n);
    assert_int_equal(fw_submit_reading(s->ctx, READING, strlen(READING)), 0);
    script_run(s);
}

static void test_v2_envelope(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(201),
    };
    char plain[FW_TX_MAX];

    play_with_reading(s, steps, 3);
    assert_int_equal(open_v2(s->sent[2], SCRIPT_DEVICE_ID, plain, sizeof plain), 0);
    assert_string_equal(plain, "{\"data\":{\"value\":300},\"SEQN\":1}");
    /* The device id is bound as associated data: under another id the tag does not verify. */
    assert_int_equal(open_v2(s->sent[2], "a4:cf:12:00:00:02", plain, sizeof plain), -1);
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 1);
}

static void test_v1_envelope_padding(void **state)
{
    struct script *s = *state;
    static const size_t key_lens[] = {16, 24, 32};
    struct script_step steps[2 + 17] = {SCRIPT_REGISTER(201), SCRIPT_POLL(0, 304, NULL)};
    size_t k, i;

    for (i = 2; i < 19; i++)
        steps[i] = (struct script_step)SCRIPT_TELEMETRY(201);
    for (k = 0; k < 3; k++) {
        fw_free(s->ctx);
        script_init(s, (uint32_t)k + 7);
        script_set_steps(s, steps, 19);
        s->n_steps = 2;
        script_device(s, FW_ENVELOPE_V1, key_lens[k]);
        /* Plaintexts of 17..33 bytes (SEQN i + 1 gains a digit at 10), so every padding length
         * 1..16 occurs. */
        for (i = 0; i < 17; i++) {
            char reading[64], plain[FW_TX_MAX], expect[96];
            int x = (int)i + 1 - (i + 1 >= 10 ? 2 : 1);

            snprintf(reading, sizeof reading, "{\"k\":\"%.*s\"}", x, "xxxxxxxxxxxxxxxxx");
            send_one(s, reading);
            open_v1(s->sent[2 + i], key_lens[k], plain, sizeof plain);
            snprintf(expect, sizeof expect, "{\"k\":\"%.*s\",\"SEQN\":%zu}", x, "xxxxxxxxxxxxxxxxx", i + 1);
            assert_string_equal(plain, expect);
            assert_int_equal(strlen(plain), 17 + i);
        }
    }
}

/* The device loses its RAM; the script's storage stays. */
static void power_off(struct script *s)
{
    fw_free(s->ctx);
    s->ctx = NULL;
}

static void test_seqn_survives_reboot(void **state)
{
    struct script *s = *state;
    static struct script_step steps[2 + 100];
    static const struct script_step after[] = {
        SCRIPT_REGISTER(200),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(201),
    };
    unsigned long last = 0, seqn;
    size_t i;

    steps[0] = (struct script_step)SCRIPT_REGISTER(201);
    steps[1] = (struct script_step)SCRIPT_POLL(0, 304, NULL);
    for (i = 2; i < 102; i++)
        steps[i] = (struct script_step)SCRIPT_TELEMETRY(201);
    script_start(s, steps, 2);
    for (i = 0; i < 100; i++) {
        send_one(s, READING);
        seqn = sent_seqn(s->sent[2 + i], READING);
        assert_true(seqn > last);
        last = seqn;
    }
    /* One reservation per 64 messages, not one write per message. */
    assert_in_range(s->writes, 1, 1 + 100 / 64 + 1);

    /* Reboot: a new context over the same storage starts above everything used. */
    power_off(s);
    play_with_reading(s, after, 3);
    seqn = sent_seqn(s->sent[2], READING);
    assert_true(seqn > last);
    assert_true(seqn <= last + 2 * 64);

    /* A reboot that sent nothing still never reuses a number. */
    last = seqn;
    power_off(s);
    script_start(s, after, 3);
    power_off(s);
    play_with_reading(s, after, 3);
    assert_true(sent_seqn(s->sent[2], READING) > last);
}

/* Boots over a hand-made storage record and returns the SEQN of the first reading sent. */
static unsigned long first_seqn_over(struct script *s, const char *record)
{
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(201),
    };

    fw_free(s->ctx);
    script_init(s, 1);
    memcpy(s->record, record, 12);
    s->record_len = 12;
    play_with_reading(s, steps, 3);
    return sent_seqn(s->sent[2], READING);
}

static void test_storage_record_format(void **state)
{
    struct script *s = *state;

    /* "FWSQ", the reserved limit 0x1080 as le32, its complement as le32. */
    assert_int_equal(first_seqn_over(s, "FWSQ\x80\x10\0\0\x7f\xef\xff\xff"), 0x1080);
    assert_memory_equal(s->record, "FWSQ\xc0\x10\0\0\x3f\xef\xff\xff", 12);
    /* A torn record (check word off) or a foreign one is ignored: numbering starts over. */
    assert_int_equal(first_seqn_over(s, "FWSQ\x80\x10\0\0\x7e\xef\xff\xff"), 1);
    assert_int_equal(first_seqn_over(s, "XWSQ\x80\x10\0\0\x7f\xef\xff\xff"), 1);
}

static void test_replay_of_fresh_seqn_skips_ahead(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),  SCRIPT_POLL(0, 304, NULL), SCRIPT_TELEMETRY(409),
        SCRIPT_TELEMETRY(409), SCRIPT_TELEMETRY(201),     SCRIPT_TELEMETRY(201),
    };
    unsigned long first, second, third;

    play_with_reading(s, steps, 5);
    first = sent_seqn(s->sent[2], READING);
    second = sent_seqn(s->sent[3], READING);
    third = sent_seqn(s->sent[4], READING);
    /* One block past the first, then two more: the jumps double. */
    assert_int_equal(second, first + 64);
    assert_int_equal(third, second + 2 * 64);
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 1);
    assert_int_equal(s->events[FW_EV_RETRY], 0);
    /* The next reading continues after the accepted one. */
    send_one(s, READING);
    assert_int_equal(sent_seqn(s->sent[5], READING), third + 1);
}

static void test_replay_after_lost_answer_is_delivered(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),  SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(500), SCRIPT_TELEMETRY(FW_HTTP_NETWORK_ERROR),
        SCRIPT_TELEMETRY(409), SCRIPT_POLL(0, 304, NULL), /* and no further telemetry: it was stored once */
    };

    play_with_reading(s, steps, 6);
    /* Retransmissions keep their SEQN, so the server can tell them apart from new readings. */
    assert_int_equal(sent_seqn(s->sent[2], READING), 1);
    assert_int_equal(sent_seqn(s->sent[3], READING), 1);
    assert_int_equal(sent_seqn(s->sent[4], READING), 1);
    assert_string_not_equal(s->sent[2], s->sent[3]); /* fresh nonce each time */
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 1);
    assert_int_equal(s->events[FW_EV_RETRY], 2);
}

static void test_refused_reading_dropped(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(400),
        SCRIPT_TELEMETRY(201),
    };

    script_start(s, steps, 2);
    send_one(s, READING);
    assert_int_equal(s->events[FW_EV_READING_REFUSED], 1);
    send_one(s, "{\"data\":{\"value\":301}}");
    assert_int_equal(sent_seqn(s->sent[3], "{\"data\":{\"value\":301}}"), 2);
}

static void test_unknown_device_keeps_reading(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201), SCRIPT_POLL(0, 304, NULL), SCRIPT_TELEMETRY(404),
        SCRIPT_REGISTER(201), SCRIPT_POLL(0, 304, NULL), SCRIPT_TELEMETRY(201),
    };

    play_with_reading(s, steps, 6);
    assert_int_equal(sent_seqn(s->sent[5], READING), sent_seqn(s->sent[2], READING));
    assert_int_equal(s->events[FW_EV_REGISTERED], 2);
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 1);
}

static void test_local_failures_delay_telemetry(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(201),
        SCRIPT_TELEMETRY(201),
    };

    s->store_fails = true;
    script_play(s, steps, 2);
    assert_int_equal(fw_submit_reading(s->ctx, READING, strlen(READING)), 0);
    /* Without a stored reservation no SEQN is used: the send backs off instead. */
    fw_step(s->ctx, s->now);
    assert_int_equal(s->next, 2);
    assert_int_equal(s->events[FW_EV_RETRY], 1);
    s->store_fails = false;
    s->n_steps = 3;
    script_run(s);
    assert_int_equal(sent_seqn(s->sent[2], READING), 1);
    assert_int_equal(s->writes, 1);

    /* Encryption failing: nothing is sent, and the reading goes out once it works again. */
    s->crypto_fails = true;
    assert_int_equal(fw_submit_reading(s->ctx, READING, strlen(READING)), 0);
    fw_step(s->ctx, s->now);
    assert_int_equal(s->next, 3);
    assert_int_equal(s->events[FW_EV_RETRY], 2);
    s->crypto_fails = false;
    s->n_steps = 4;
    script_run(s);
    assert_int_equal(sent_seqn(s->sent[3], READING), 2);
}

static void test_endless_replays_drop_reading(void **state)
{
    struct script *s = *state;
    static struct script_step steps[2 + 21 + 1];
    unsigned long prev, seqn;
    size_t i;

    steps[0] = (struct script_step)SCRIPT_REGISTER(201);
    steps[1] = (struct script_step)SCRIPT_POLL(0, 304, NULL);
    for (i = 2; i < 23; i++)
        steps[i] = (struct script_step)SCRIPT_TELEMETRY(409);
    steps[23] = (struct script_step)SCRIPT_POLL(0, 304, NULL); /* no 22nd attempt */
    play_with_reading(s, steps, 24);
    assert_int_equal(s->events[FW_EV_READING_REFUSED], 1);
    assert_int_equal(s->events[FW_EV_READING_ACCEPTED], 0);
    prev = sent_seqn(s->sent[2], READING);
    for (i = 3; i < 23; i++) {
        seqn = sent_seqn(s->sent[i], READING);
        assert_int_equal(seqn, prev + (64ul << (i - 3)));
        prev = seqn;
    }
}

static void test_submit_validation(void **state)
{
    struct script *s = *state;
    static const struct script_step steps[] = {
        SCRIPT_REGISTER(201),
        SCRIPT_POLL(0, 304, NULL),
        SCRIPT_TELEMETRY(201),
    };
    static const char *const bad[] = {"[1]", "{", "\"x\"", "{\"a\":1}x", "", "{\"a\":01}"};
    char big[FW_READING_MAX + 16];
    char plain[FW_TX_MAX];
    size_t i;

    script_start(s, steps, 3);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fw_submit_reading(s->ctx, bad[i], strlen(bad[i])), -1);
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"a\":\"", 6);
    memcpy(big + FW_READING_MAX - 1, "\"}", 2); /* one byte over the limit */
    assert_int_equal(fw_submit_reading(s->ctx, big, FW_READING_MAX + 1), -1);
    assert_int_equal(fw_submit_reading(s->ctx, " {} ", 4), 0);
    assert_int_equal(fw_submit_reading(s->ctx, "{}", 2), -1); /* one at a time */
    script_run(s);
    assert_int_equal(open_v2(s->sent[2], SCRIPT_DEVICE_ID, plain, sizeof plain), 0);
    assert_string_equal(plain, "{\"SEQN\":1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FW_TEST(test_v2_envelope),
        FW_TEST(test_v1_envelope_padding),
        FW_TEST(test_seqn_survives_reboot),
        FW_TEST(test_storage_record_format),
        FW_TEST(test_replay_of_fresh_seqn_skips_ahead),
        FW_TEST(test_replay_after_lost_answer_is_delivered),
        FW_TEST(test_refused_reading_dropped),
        FW_TEST(test_unknown_device_keeps_reading),
        FW_TEST(test_local_failures_delay_telemetry),
        FW_TEST(test_endless_replays_drop_reading),
        FW_TEST(test_submit_validation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
