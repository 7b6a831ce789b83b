/* fw_script.c: the scripted platform behind the firmware unit tests. Requests are checked
 * against the transcript with cmocka asserts; AES comes from OpenSSL, independent of the core. */
#include "fw_script.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fw_openssl.h"

void script_init(struct script *s, uint32_t seed)
{
    memset(s, 0, sizeof *s);
    s->rng = seed ? seed : 1;
    s->record_len = -1;
    s->update_record_len = -1;
    s->now = 1000;
}

void script_set_steps(struct script *s, const struct script_step *steps, size_t n)
{
    assert_true(n <= SCRIPT_MAX_STEPS);
    s->steps = steps;
    s->n_steps = n;
    s->next = 0;
}

static const char *header(const struct fw_http_request *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Feeds the streamed body in pieces until it ends or the core refuses it. */
static void stream_body(struct script *s, const struct script_stream *b)
{
    uint32_t at;

    assert_true(b->to <= s->served_len && b->from <= b->to);
    for (at = b->from; at < b->to; at += SCRIPT_PIECE) {
        size_t n = b->to - at < SCRIPT_PIECE ? b->to - at : SCRIPT_PIECE;

        if (fw_http_body(s->ctx, b->status, b->range_start, s->served + at, n) != 0)
            return;
    }
}

static int http_start(void *user_data, const struct fw_http_request *req)
{
    struct script *s = user_data;
    const struct script_step *st;
    const char *proof;
    size_t body_len;

    if (s->next >= s->n_steps)
        fail_msg("unexpected request %s %s after the transcript's end", req->method, req->path);
    st = &s->steps[s->next];
    assert_string_equal(req->method, st->method);
    assert_string_equal(req->path, st->path);
    if (st->if_none_match)
        assert_string_equal(header(req, "If-None-Match"), st->if_none_match);
    else
        assert_null(header(req, "If-None-Match"));
    if (st->range)
        assert_string_equal(header(req, "Range"), st->range);
    else
        assert_null(header(req, "Range"));
    assert_int_equal(req->stream, st->stream != NULL);
    assert_true(req->body_len < FW_TX_MAX);
    memcpy(s->sent[s->next], req->body ? req->body : "", req->body_len);
    s->sent[s->next][req->body_len] = '\0';
    if (st->body)
        assert_string_equal(s->sent[s->next], st->body);
    if (req->body)
        assert_string_equal(header(req, "Content-Type"), "application/json");
    proof = header(req, FW_AUTH_HEADER);
    assert_true(!proof || strlen(proof) <= FW_AUTH_PROOF_MAX);
    strcpy(s->proof[s->next], proof ? proof : "");
    s->started_at[s->next++] = s->now;
    if (st->status == SCRIPT_START_FAILS)
        return -1;
    if (st->stream)
        stream_body(s, st->stream);

    body_len = st->resp_body ? strlen(st->resp_body) : 0;
    memcpy(req->resp_body, st->resp_body ? st->resp_body : "",
           body_len < req->resp_cap ? body_len : req->resp_cap);
    s->answer.status = st->status;
    s->answer.body_len = body_len;
    s->answer.server_time = s->server_time;
    if (s->sync)
        assert_int_equal(fw_http_done(s->ctx, &s->answer), 0);
    else
        s->answer_pending = true;
    return 0;
}

static int rng(void *user_data, uint8_t *buf, size_t len)
{
    struct script *s = user_data;
    size_t i;

    for (i = 0; i < len; i++) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 17;
        s->rng ^= s->rng << 5;
        buf[i] = (uint8_t)s->rng;
    }
    return 0;
}

static int aes_cbc(void *user_data, const uint8_t *key, size_t key_len, const uint8_t iv[16],
                   const uint8_t *in, size_t len, uint8_t *out)
{
    if (((struct script *)user_data)->crypto_fails)
        return -1;
    return fw_openssl_aes_cbc(key, key_len, iv, in, len, out);
}

static int aes_gcm(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    if (((struct script *)user_data)->crypto_fails)
        return -1;
    return fw_openssl_aes_gcm(key, nonce, aad, aad_len, in, len, out, tag);
}

static int store_read(void *user_data, uint8_t *buf, size_t cap)
{
    struct script *s = user_data;

    if (s->record_len < 0 || (size_t)s->record_len > cap)
        return -1;
    memcpy(buf, s->record, (size_t)s->record_len);
    return s->record_len;
}

static int store_write(void *user_data, const uint8_t *buf, size_t len)
{
    struct script *s = user_data;

    if (s->store_fails || len > sizeof s->record)
        return -1;
    memcpy(s->record, buf, len);
    s->record_len = (int)len;
    s->writes++;
    return 0;
}

static void log_msg(void *user_data, enum fw_log_level level, const char *msg)
{
    (void)user_data;
    print_message("# fw[%d]: %s\n", (int)level, msg);
}

static int running_version(void *user_data, char *buf, size_t cap)
{
    struct script *s = user_data;
    size_t n = strlen(s->running);

    if (n >= cap)
        return -1;
    memcpy(buf, s->running, n + 1);
    return (int)n;
}

static int image_begin(void *user_data, const struct fw_image *img, uint32_t *offset)
{
    struct script *s = user_data;

    s->begins++;
    if (img->size > s->flash_cap)
        return -1;
    if (s->sector)
        *offset -= *offset % s->sector;
    if (*offset > s->flash_len)
        *offset = 0; /* the record claims more than the flash holds: start over */
    s->flash_len = *offset;
    return 0;
}

static int image_write(void *user_data, uint32_t offset, const uint8_t *data, size_t len)
{
    struct script *s = user_data;

    assert_int_equal(offset, s->flash_len); /* always appended */
    assert_true(len <= s->flash_cap - offset);
    memcpy(s->flash + offset, data, len);
    s->flash_len += len;
    return 0;
}

static int image_finish(void *user_data, const struct fw_image *img)
{
    struct script *s = user_data;
    struct fw_bytes part = {s->flash, s->flash_len};
    uint8_t sum[32];

    s->finishes++;
    assert_int_equal(s->flash_len, img->size);
    assert_int_equal(fw_openssl_sha256(NULL, &part, 1, sum), 0);
    return memcmp(sum, img->sha256, sizeof sum) == 0 ? 0 : -1;
}

static int image_boot(void *user_data, const struct fw_image *img)
{
    struct script *s = user_data;

    (void)img;
    s->boots++;
    return 0;
}

static int update_read(void *user_data, uint8_t *buf, size_t cap)
{
    struct script *s = user_data;

    if (s->update_record_len < 0 || (size_t)s->update_record_len > cap)
        return -1;
    memcpy(buf, s->update_record, (size_t)s->update_record_len);
    return s->update_record_len;
}

static int update_write(void *user_data, const uint8_t *buf, size_t len)
{
    struct script *s = user_data;

    if (s->store_fails || len > sizeof s->update_record)
        return -1;
    memcpy(s->update_record, buf, len);
    s->update_record_len = (int)len;
    return 0;
}

static const struct fw_update_ops update_ops = {
    running_version, image_begin, image_write, image_finish, image_boot, update_read, update_write,
};

struct fw_platform script_platform(struct script *s)
{
    struct fw_platform p = {s, http_start, rng, aes_cbc, aes_gcm, store_read, store_write, log_msg, fw_openssl_sha256,
                            fw_openssl_aes_gcm_decrypt, s->updates ? &update_ops : NULL};

    return p;
}

void script_enable_updates(struct script *s, const char *running, size_t n)
{
    size_t i;

    assert_true(strlen(running) < sizeof s->running);
    strcpy(s->running, running);
    s->updates = true;
    s->served = malloc(n);
    s->flash = malloc(n);
    assert_non_null(s->served);
    assert_non_null(s->flash);
    for (i = 0; i < n; i++)
        s->served[i] = (uint8_t)(i * 7u + (i >> 8));
    s->served_len = s->flash_cap = n;
}

void script_reboot(struct script *s)
{
    fw_free(s->ctx);
    s->ctx = NULL;
    s->answer_pending = false;
    script_device(s, FW_ENVELOPE_V2, 16);
}


static int apply_config(void *user_data, uint32_t cfgsn, const char *data, size_t len)
{
    struct script *s = user_data;
    unsigned i = s->apply_calls++;

    assert_true(i < SCRIPT_MAX_CALLS);
    assert_int_equal(strlen(data), len); /* NUL-terminated right after the value */
    assert_true(len < sizeof s->applied_data[i]);
    memcpy(s->applied_data[i], data, len + 1);
    s->applied_cfgsn[i] = cfgsn;
    return s->apply_rc[i];
}

static void on_event(void *user_data, enum fw_event ev)
{
    struct script *s = user_data;

    s->events[ev]++;
}

struct fw_app script_app(struct script *s)
{
    struct fw_app a = {s, apply_config, on_event};

    return a;
}

void script_key(uint8_t *key, size_t key_len)
{
    size_t i;

    for (i = 0; i < key_len; i++)
        key[i] = (uint8_t)i;
}

struct fw_ctx *script_device(struct script *s, enum fw_envelope_version version, size_t key_len)
{
    struct fw_platform plat = script_platform(s);
    struct fw_app app = script_app(s);
    struct fw_config cfg = {SCRIPT_DEVICE_ID, "10.0.0.7", "lab", {version, {0}, key_len}, 0, 0, s->sign, NULL};

    script_key(cfg.key.key, key_len);
    s->ctx = fw_new(&cfg, &plat, &app);
    assert_non_null(s->ctx);
    return s->ctx;
}

void script_start(struct script *s, const struct script_step *steps, size_t n)
{
    script_set_steps(s, steps, n);
    script_device(s, FW_ENVELOPE_V2, 16);
}

void script_run(struct script *s)
{
    int guard;

    for (guard = 0; guard < 10000; guard++) {
        uint64_t wake = fw_step(s->ctx, s->now);

        if (s->answer_pending) {
            s->answer_pending = false;
            assert_int_equal(fw_http_done(s->ctx, &s->answer), 0);
            continue;
        }
        if (s->next == s->n_steps)
            return;
        if (wake == FW_NEVER)
            fail_msg("client stopped after %zu of %zu requests", s->next, s->n_steps);
        assert_true(wake >= s->now);
        s->now = wake;
    }
    fail_msg("transcript not finished");
}

int fw_test_setup(void **state)
{
    struct script *s = calloc(1, sizeof *s);

    if (!s)
        return -1;
    script_init(s, 0x9e3779b9u);
    *state = s;
    return 0;
}

int fw_test_teardown(void **state)
{
    struct script *s = *state;

    fw_free(s->ctx);
    free(s->served);
    free(s->flash);
    free(s);
    return 0;
}

void script_play(struct script *s, const struct script_step *steps, size_t n)
{
    script_start(s, steps, n);
    script_run(s);
}

/* HMAC-SHA256(device key 0..15, label): the key the server derives. */
void script_derived(const char *label, uint8_t out[32])
{
    uint8_t key[16];
    unsigned len = 32;

    script_key(key, sizeof key);
    assert_non_null(HMAC(EVP_sha256(), key, sizeof key, (const uint8_t *)label, strlen(label), out, &len));
}

/* The proof the server expects for the call at t. */
void script_expected_proof(const char *method, const char *target, const char *body, long long t, char *out,
                           size_t cap)
{
    uint8_t key[32], digest[32], mac[32];
    char hex[65], msg[512];
    unsigned len = 32;
    size_t i;

    script_derived("provd device auth 1", key);
    assert_int_equal(EVP_Digest(body, strlen(body), digest, NULL, EVP_sha256(), NULL), 1);
    for (i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    snprintf(msg, sizeof msg, "provd-auth-1\n%s\n%s\n%s\n%lld", method, target, hex, t);
    assert_non_null(HMAC(EVP_sha256(), key, 32, (const uint8_t *)msg, strlen(msg), mac, &len));
    for (i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", mac[i]);
    snprintf(out, cap, "1:%lld:%s", t, hex);
}

/* {"cfgsn":<outer>,"sealed":{"v":2,"nonce":...,"data":...}}, the sealed text made for cfgsn. */
void script_sealed_answer(uint32_t outer, uint32_t cfgsn, const char *plain, char *out, size_t cap)
{
    uint8_t key[32], nonce[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2}, ct[1024];
    char aad[96], nonce_b64[32], data_b64[1400];
    int n = 0, fin = 0;
    size_t len = strlen(plain);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    script_derived("provd config seal 1", key);
    snprintf(aad, sizeof aad, "%s/config/%u", SCRIPT_DEVICE_ID, cfgsn);
    assert_true(len + 16 <= sizeof ct);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)), 1);
    assert_int_equal(EVP_EncryptUpdate(c, ct, &n, (const uint8_t *)plain, (int)len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, ct + n, &fin), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ct + len), 1);
    EVP_CIPHER_CTX_free(c);
    EVP_EncodeBlock((uint8_t *)nonce_b64, nonce, 12);
    EVP_EncodeBlock((uint8_t *)data_b64, ct, (int)len + 16);
    snprintf(out, cap, "{\"cfgsn\":%u,\"sealed\":{\"v\":2,\"nonce\":\"%s\",\"data\":\"%s\"}}", outer, nonce_b64,
             data_b64);
}
