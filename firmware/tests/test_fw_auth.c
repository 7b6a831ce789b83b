/* The firmware core signing its calls and opening sealed configurations (fw_auth.c) over the
 * scripted platform; what it sends is checked with OpenSSL's own HMAC and AES-GCM, as the server
 * (lib/device_auth.c) computes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fw_script.h"

#define T0 1764000000 /* the server's clock in every answer */
#define REG_BODY "{\"ipaddr\":\"10.0.0.7\",\"ssid\":\"lab\"}"

/* The device's v2 reading opened with associated data aad; its plaintext, or "" when it does
 * not open. */
static void open_reading(const char *body, const char *aad, char *out, size_t cap)
{
    uint8_t key[16], nonce[16], ct[512];
    const char *nonce_at = strstr(body, "\"nonce\":\"") + 9, *data_at = strstr(body, "\"data\":\"") + 8;
    int n_len, d_len, n = 0, fin = 0, ok;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    script_key(key, sizeof key);
    n_len = EVP_DecodeBlock(nonce, (const uint8_t *)nonce_at, (int)(strchr(nonce_at, '"') - nonce_at));
    d_len = EVP_DecodeBlock(ct, (const uint8_t *)data_at, (int)(strchr(data_at, '"') - data_at));
    d_len -= (int)(strchr(data_at, '"')[-1] == '=') + (int)(strchr(data_at, '"')[-2] == '=');
    assert_true(n_len >= 12 && d_len > 16 && (size_t)d_len - 16 < cap);
    ok = EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce) == 1 &&
         EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(c, (uint8_t *)out, &n, ct, d_len - 16) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, ct + d_len - 16) == 1 &&
         EVP_DecryptFinal_ex(c, (uint8_t *)out + n, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    out[ok ? d_len - 16 : 0] = '\0';
}

/* Boot without a clock: the first proof (t=0) is refused, the 401's clock is taken and the same
 * call goes again at once; the sealed configuration is applied and names the SEQN epoch that the
 * v2 reading then binds. */
static void test_signed_boot_and_sealed_config(void **state)
{
    struct script *s = *state;
    char sealed[1024], want[128], plain[256];
    static struct script_step steps[5] = {
        SCRIPT_REGISTER(401),
        SCRIPT_REGISTER(200),
        {"GET", SCRIPT_DEV_PATH "?cfgsn=0", NULL, NULL, 200, NULL, NULL, NULL}, /* the whole configuration once */
        SCRIPT_TELEMETRY(201),
        SCRIPT_POLL(4, 304, NULL),
    };

    script_sealed_answer(4, 4, "{\"cfgsn\":4,\"data\":{\"led\":1},\"poll_interval\":60,\"epoch\":3}", sealed, sizeof sealed);
    steps[2].resp_body = sealed;
    s->sign = true;
    s->server_time = T0;
    script_start(s, steps, 3);
    script_run(s);
    assert_int_equal(fw_submit_reading(s->ctx, "{\"data\":{\"v\":7}}", 16), 0);
    script_set_steps(s, steps, 5);
    s->next = 3;
    script_run(s);

    script_expected_proof("POST", SCRIPT_DEV_PATH, REG_BODY, 0, want, sizeof want);
    assert_string_equal(s->proof[0], want);
    assert_int_equal(s->started_at[1], s->started_at[0]); /* again at once, no backoff */
    script_expected_proof("POST", SCRIPT_DEV_PATH, REG_BODY, T0, want, sizeof want);
    assert_string_equal(s->proof[1], want);
    script_expected_proof("GET", SCRIPT_DEV_PATH "?cfgsn=0", "", T0 + (long long)(s->started_at[2] - 1000) / 1000, want,
                   sizeof want);
    assert_string_equal(s->proof[2], want);
    assert_int_equal(s->apply_calls, 1);
    assert_int_equal(s->applied_cfgsn[0], 4);
    assert_string_equal(s->applied_data[0], "{\"led\":1}");
    open_reading(s->sent[3], SCRIPT_DEVICE_ID "#3", plain, sizeof plain);
    assert_string_equal(plain, "{\"data\":{\"v\":7},\"SEQN\":1}");
    script_expected_proof("POST", SCRIPT_DEV_PATH "/telemetry", s->sent[3],
                   T0 + (long long)(s->started_at[3] - 1000) / 1000, want, sizeof want);
    assert_string_equal(s->proof[3], want);
}

/* A configuration that is not sealed for this device and cfgsn is never applied. */
static void test_unsealed_or_misbound_config_refused(void **state)
{
    struct script *s = *state;
    char misbound[1024], tampered[1024];
    static struct script_step steps[4] = {
        SCRIPT_REGISTER(201),
        {"GET", SCRIPT_DEV_PATH "?cfgsn=0", NULL, NULL, 200, "{\"cfgsn\":5,\"data\":{\"evil\":1}}", NULL, NULL},
        {"GET", SCRIPT_DEV_PATH "?cfgsn=0", NULL, NULL, 200, NULL, NULL, NULL},
        {"GET", SCRIPT_DEV_PATH "?cfgsn=0", NULL, NULL, 200, NULL, NULL, NULL},
    };

    script_sealed_answer(5, 4, "{\"cfgsn\":5,\"data\":{},\"epoch\":0}", misbound, sizeof misbound);
    script_sealed_answer(5, 5, "{\"cfgsn\":5,\"data\":{},\"epoch\":0}", tampered, sizeof tampered);
    tampered[strlen(tampered) - 5] ^= 1; /* a base64 digit of the tag */
    steps[2].resp_body = misbound;
    steps[3].resp_body = tampered;
    s->sign = true;
    s->server_time = T0;
    script_play(s, steps, 4);
    assert_int_equal(s->apply_calls, 0);
    assert_int_equal(s->events[FW_EV_RETRY], 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FW_TEST(test_signed_boot_and_sealed_config),
        FW_TEST(test_unsealed_or_misbound_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
