/* Unit tests of lib/e2ee (telemetry envelopes) and lib/base64: every crypto-js vector in
 * tests/vectors/cryptojs-public.json, the blog's ESP8266 message, GCM known answers and tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64.h"
#include "e2ee.h"

#define DEVICE       "5C:CF:7F:12:34:56"
#define KEY128       "000102030405060708090A0B0C0D0E0F"
#define KEY192       "000102030405060708090a0b0c0d0e0f1011121314151617"
#define KEY256       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define VECTORS_ENV  "E2EE_VECTORS"
#define VECTORS_PATH "tests/vectors/cryptojs-public.json"

/* The original blog post's ESP8266 message (real device output). */
#define BLOG_KEY "2B7E151628AED2A6ABF7158809CF4F3C"
#define BLOG_IV  "cAFviaDMHejlteGn9/4eQQ=="
#define BLOG_CT                                                                                              \
    "/1aZRwVaw3jv+"                                                                                          \
    "ct8HS4pCV5lThvTG70M90ARiyAsIDYMkfJE3w8F3bgxaOKVA0rX4m1Mq50VVN0u9gRw9F2gKE4r2OcY8oECv8bKT80F9pY="
#define BLOG_JSON "{\"data\":{\"value\":300}, \"SEQN\":700 , \"msg\":\"IT WORKS!\" }"

/* ---- helpers ---- */

/* Base64 by OpenSSL, independent of lib/base64, for building test bodies. */
static char *b64(const void *data, size_t n)
{
    char *out = malloc(b64_encoded_len(n) + 1);

    assert_non_null(out);
    EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;

    assert_int_equal(OPENSSL_hexstr2buf_ex(out, cap, &n, hex, '\0'), 1);
    return n;
}

/* {"iv":iv,"data":data}, {"data":data} (iv NULL) serialised by json-c as JS's JSON.stringify would. */
static char *envelope_json(const char *iv, const char *data)
{
    struct json_object *obj = json_object_new_object();
    char *text;

    if (iv)
        json_object_object_add(obj, "iv", json_object_new_string(iv));
    json_object_object_add(obj, "data", json_object_new_string(data));
    text =
        strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(obj);
    assert_non_null(text);
    return text;
}

static char *key_body(const void *iv, const void *ct, size_t n)
{
    char *iv64 = b64(iv, E2EE_IV_LEN), *ct64 = b64(ct, n);
    char *body = envelope_json(iv64, ct64);

    free(iv64);
    free(ct64);
    return body;
}

static char *v2_body(const uint8_t *nonce, size_t nonce_len, const uint8_t *data, size_t n)
{
    char *nonce64 = b64(nonce, nonce_len), *data64 = b64(data, n);
    size_t size = strlen(nonce64) + strlen(data64) + 64;
    char *body = malloc(size);

    assert_non_null(body);
    snprintf(body, size, "{\"v\":2,\"nonce\":\"%s\",\"data\":\"%s\"}", nonce64, data64);
    free(nonce64);
    free(data64);
    return body;
}

static enum e2ee_err open_as(const char *device, const char *secret, const char *body, struct e2ee_msg **m)
{
    return e2ee_open(device, secret, body, strlen(body), m);
}

/* Opens body and checks the outcome: the JSON text when want_json is set, else the error. */
static void expect_open(const char *secret, const char *body, enum e2ee_err want, const char *want_json)
{
    struct e2ee_msg *m = NULL;
    enum e2ee_err err = open_as(DEVICE, secret, body, &m);

    if (err != want)
        print_error("body %s: got %s, want %s\n", body, e2ee_strerror(err), e2ee_strerror(want));
    assert_int_equal(err, want);
    if (want != E2EE_OK) {
        assert_null(m);
        return;
    }
    assert_non_null(m);
    if (want_json) {
        assert_string_equal(e2ee_msg_text(m), want_json);
        assert_int_equal(e2ee_msg_len(m), strlen(want_json));
    }
    e2ee_msg_free(m);
}

static char *seal_v2(const char *secret, const uint8_t *nonce, const void *plain, size_t n)
{
    char *env = NULL;

    assert_int_equal(e2ee_seal_v2(DEVICE, secret, nonce, plain, n, &env), E2EE_OK);
    return env;
}

/* Decodes a base64 field of an envelope text, with lib/base64 (tested on its own below). */
static size_t envelope_field(const char *envelope, const char *name, uint8_t *out, size_t cap)
{
    struct json_object *obj = json_tokener_parse(envelope), *field;
    size_t n = 0;

    assert_non_null(obj);
    assert_true(json_object_object_get_ex(obj, name, &field));
    assert_int_equal(b64_decode(json_object_get_string(field), (size_t)json_object_get_string_len(field),
                                B64_STRICT, out, cap, &n),
                     0);
    json_object_put(obj);
    return n;
}

/* AES-CBC without padding by OpenSSL directly, so tests can build any last block. */
static char *raw_cbc_body(const char *key_hex, const uint8_t iv[E2EE_IV_LEN], const uint8_t *plain, size_t n)
{
    uint8_t key[32], ct[256];
    size_t key_len = unhex(key_hex, key, sizeof(key));
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *c = key_len == 16   ? EVP_aes_128_cbc()
                          : key_len == 24 ? EVP_aes_192_cbc()
                                          : EVP_aes_256_cbc();
    int len = 0, last = 0;

    assert_true(n % 16 == 0 && n <= sizeof(ct));
    assert_int_equal(EVP_EncryptInit_ex(ctx, c, NULL, key, iv), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_EncryptUpdate(ctx, ct, &len, plain, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, ct + len, &last), 1);
    EVP_CIPHER_CTX_free(ctx);
    return key_body(iv, ct, n);
}

static const uint8_t fixed_iv[E2EE_IV_LEN] = {0x70, 0x01, 0x6f, 0x89, 0xa0, 0xcc, 0x1d, 0xe8,
                                              0xe5, 0xb5, 0xe1, 0xa7, 0xf7, 0xfe, 0x1e, 0x41};
static const uint8_t fixed_nonce[E2EE_NONCE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* ---- crypto-js vectors, one test each ---- */

static const char *vstr(struct json_object *v, const char *name)
{
    struct json_object *f;

    return json_object_object_get_ex(v, name, &f) && json_object_is_type(f, json_type_string)
               ? json_object_get_string(f)
               : NULL;
}

/* The error the vector's reject_stage names (E2EE_OK: no stage given, any refusal will do). */
static enum e2ee_err stage_error(const char *stage)
{
    static const struct {
        const char *stage;
        enum e2ee_err err;
    } map[] = {
        {"key", E2EE_ERR_KEY},        {"iv", E2EE_ERR_IV},
        {"base64", E2EE_ERR_BASE64},  {"length", E2EE_ERR_LENGTH},
        {"format", E2EE_ERR_FORMAT},  {"padding", E2EE_ERR_PADDING},
        {"json", E2EE_ERR_PLAINTEXT}, {"base64_or_json", E2EE_ERR_PLAINTEXT},
    };
    size_t i;

    for (i = 0; stage && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(stage, map[i].stage) == 0)
            return map[i].err;
    return E2EE_OK;
}

/* An ok vector: e2ee_decrypt() gives exactly plaintext_hex; e2ee_open() gives the JSON (the
 * plaintext, or "json" for base64json) and refuses text; the sealers reproduce crypto-js's body. */
static void check_ok_vector(struct json_object *v, bool key_mode, const char *secret, const char *body)
{
    const char *kind = vstr(v, "plaintext_kind");
    uint8_t plain[E2EE_MAX_BODY], iv[E2EE_IV_LEN], salt[E2EE_SALT_LEN];
    size_t n = unhex(vstr(v, "plaintext_hex"), plain, sizeof(plain)), iv_len = 0;
    struct e2ee_msg *m = NULL;
    char *sealed = NULL;

    assert_non_null(kind);
    assert_int_equal(e2ee_decrypt(DEVICE, secret, body, strlen(body), &m), E2EE_OK);
    assert_int_equal(e2ee_msg_len(m), n);
    assert_memory_equal(e2ee_msg_text(m), plain, n);
    assert_int_equal(e2ee_msg_envelope(m), key_mode ? E2EE_V1_KEY : E2EE_V1_PASSPHRASE);
    e2ee_msg_free(m);

    if (strcmp(kind, "json") == 0)
        expect_open(secret, body, E2EE_OK, vstr(v, "plaintext"));
    else if (strcmp(kind, "base64json") == 0)
        expect_open(secret, body, E2EE_OK, vstr(v, "json"));
    else
        expect_open(secret, body, E2EE_ERR_PLAINTEXT, NULL);

    if (key_mode) {
        assert_int_equal(
            b64_decode(vstr(v, "iv_b64"), strlen(vstr(v, "iv_b64")), B64_STRICT, iv, sizeof(iv), &iv_len), 0);
        assert_int_equal(e2ee_seal_v1_key(secret, iv, plain, n, &sealed), E2EE_OK);
    } else {
        unhex(vstr(v, "salt_hex"), salt, sizeof(salt));
        assert_int_equal(e2ee_seal_v1_passphrase(secret, salt, plain, n, &sealed), E2EE_OK);
    }
    assert_string_equal(sealed, body);
    free(sealed);
}

static void test_vector(void **state)
{
    struct json_object *v = *state;
    bool key_mode;
    const char *secret;
    char *body;

    assert_non_null(vstr(v, "mode"));
    assert_non_null(vstr(v, "expect"));
    assert_non_null(vstr(v, "ciphertext_b64"));
    key_mode = strcmp(vstr(v, "mode"), "key") == 0;
    secret = vstr(v, key_mode ? "key_hex" : "passphrase");
    assert_non_null(secret);
    body = envelope_json(key_mode ? vstr(v, "iv_b64") : NULL, vstr(v, "ciphertext_b64"));
    if (strcmp(vstr(v, "expect"), "ok") == 0) {
        check_ok_vector(v, key_mode, secret, body);
    } else {
        enum e2ee_err want = stage_error(vstr(v, "reject_stage"));
        struct e2ee_msg *m = NULL;
        enum e2ee_err err = open_as(DEVICE, secret, body, &m);

        assert_int_not_equal(err, E2EE_OK);
        assert_null(m);
        if (want != E2EE_OK && err != want)
            fail_msg("refused for \"%s\", vector says %s", e2ee_strerror(err), vstr(v, "reject_stage"));
    }
    free(body);
}

static struct json_object *load_vectors(void)
{
    const char *path = getenv(VECTORS_ENV) ? getenv(VECTORS_ENV) : VECTORS_PATH;
    struct json_object *doc = json_object_from_file(path);

    if (!doc)
        fprintf(stderr, "cannot read %s (run from the repository root or set %s)\n", path, VECTORS_ENV);
    return doc;
}

/* The file is complete: its counts match what it holds, so no vector can go unchecked. */
static void test_vectors_file_complete(void **state)
{
    struct json_object *doc = *state, *list, *count, *counts, *ok, *reject;
    size_t i, n_ok = 0, n;

    assert_true(json_object_object_get_ex(doc, "vectors", &list));
    assert_true(json_object_object_get_ex(doc, "count", &count));
    assert_true(json_object_object_get_ex(doc, "counts", &counts));
    assert_true(json_object_object_get_ex(counts, "ok", &ok));
    assert_true(json_object_object_get_ex(counts, "reject", &reject));
    n = json_object_array_length(list);
    assert_true(n > 0);
    assert_int_equal(n, json_object_get_int(count));
    for (i = 0; i < n; i++)
        n_ok += strcmp(vstr(json_object_array_get_idx(list, i), "expect"), "ok") == 0;
    assert_int_equal(n_ok, json_object_get_int(ok));
    assert_int_equal(n - n_ok, json_object_get_int(reject));
}

/* ---- v1 ---- */

/* The blog's own message decrypts to base64 that lost its last '=', then to the JSON. */
static void test_blog_message(void **state)
{
    char *body = envelope_json(BLOG_IV, BLOG_CT);
    struct e2ee_msg *m = NULL;

    (void)state;
    assert_int_equal(e2ee_decrypt(DEVICE, BLOG_KEY, body, strlen(body), &m), E2EE_OK);
    assert_int_equal(e2ee_msg_len(m), 75);
    assert_string_equal(e2ee_msg_text(m) + 72, "fQ=");
    e2ee_msg_free(m);
    expect_open(BLOG_KEY, body, E2EE_OK, BLOG_JSON);
    /* a hex key works in either case */
    expect_open("2b7e151628aed2a6abf7158809cf4f3c", body, E2EE_OK, BLOG_JSON);
    free(body);
}

/* A hex secret is a key for key+IV and, as a string, a passphrase for Salted__ bodies. */
static void test_secret_rules(void **state)
{
    static const char plain[] = "{\"SEQN\":1}";
    uint8_t salt[E2EE_SALT_LEN] = {1, 2, 3, 4, 5, 6, 7, 8}, key[32], iv[16], data[64];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, last = 0;
    char *ct64, *body;

    (void)state;
    /* Salted__ body made by OpenSSL with the hex string as passphrase, as the original post did */
    assert_int_equal(EVP_BytesToKey(EVP_aes_256_cbc(), EVP_md5(), salt, (const uint8_t *)BLOG_KEY,
                                    (int)strlen(BLOG_KEY), 1, key, iv),
                     32);
    memcpy(data, "Salted__", 8);
    memcpy(data + 8, salt, 8);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, data + 16, &len, (const uint8_t *)plain, (int)strlen(plain)), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, data + 16 + len, &last), 1);
    EVP_CIPHER_CTX_free(ctx);
    ct64 = b64(data, (size_t)(16 + len + last));
    body = envelope_json(NULL, ct64);
    expect_open(BLOG_KEY, body, E2EE_OK, plain);
    free(body);
    free(ct64);

    /* a key+IV ciphertext posted as a passphrase body has no Salted__ header */
    body = envelope_json(NULL, BLOG_CT);
    expect_open(BLOG_KEY, body, E2EE_ERR_FORMAT, NULL);
    free(body);

    /* a secret that is not 32/48/64 hex digits is no AES key */
    body = envelope_json(BLOG_IV, BLOG_CT);
    expect_open("my secret passphrase", body, E2EE_ERR_KEY, NULL);
    expect_open(BLOG_KEY "0", body, E2EE_ERR_KEY, NULL);
    expect_open("2B7E151628AED2A6ABF7158809CF4F3G", body, E2EE_ERR_KEY, NULL);
    free(body);
}

/* Sealing then opening gives the bytes back for every plaintext length around the block size,
 * with a ciphertext of exactly the PKCS#7 length, for all three AES key sizes. */
static void test_v1_key_round_trip(void **state)
{
    static const char *const keys[] = {KEY128, KEY192, KEY256};
    uint8_t plain[48], ct[128];
    size_t k, n;

    (void)state;
    memset(plain, 0x5a, sizeof(plain));
    for (k = 0; k < 3; k++) {
        for (n = 0; n <= sizeof(plain); n++) {
            char *env = NULL;
            struct e2ee_msg *m = NULL;

            assert_int_equal(e2ee_seal_v1_key(keys[k], NULL, plain, n, &env), E2EE_OK);
            assert_int_equal(envelope_field(env, "data", ct, sizeof(ct)), (n / 16 + 1) * 16);
            assert_int_equal(e2ee_decrypt(DEVICE, keys[k], env, strlen(env), &m), E2EE_OK);
            assert_int_equal(e2ee_msg_len(m), n);
            assert_memory_equal(e2ee_msg_text(m), plain, n);
            e2ee_msg_free(m);
            free(env);
        }
    }
}

/* Valid PKCS#7 of every length opens; a single wrong padding byte, or a last byte of 0 or above
 * 16, is refused as padding. Blocks are built with raw AES so any ending can be tried. */
static void test_pkcs7_strict(void **state)
{
    uint8_t block[32];
    unsigned pad, j, last;

    (void)state;
    for (pad = 1; pad <= 16; pad++) {
        size_t json_len = sizeof(block) - pad;
        char json[33];
        char *body;

        snprintf(json, sizeof(json), "{\"a\":\"%.*s\"}", (int)(json_len - 8), "xxxxxxxxxxxxxxxxxxxxxxxx");
        memcpy(block, json, json_len);
        memset(block + json_len, (int)pad, pad);
        body = raw_cbc_body(KEY128, fixed_iv, block, sizeof(block));
        expect_open(KEY128, body, E2EE_OK, json);
        free(body);
        for (j = (unsigned)json_len; j + 1 < sizeof(block); j++) {
            block[j] ^= 0x20;
            body = raw_cbc_body(KEY128, fixed_iv, block, sizeof(block));
            expect_open(KEY128, body, E2EE_ERR_PADDING, NULL);
            free(body);
            block[j] ^= 0x20;
        }
    }
    /* 31 bytes of JSON and every possible last byte: only 0x01 is valid padding */
    memcpy(block, "{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxx\"}", 31);
    for (last = 0; last < 256; last++) {
        char *body;

        block[31] = (uint8_t)last;
        body = raw_cbc_body(KEY128, fixed_iv, block, sizeof(block));
        expect_open(KEY128, body, last == 1 ? E2EE_OK : E2EE_ERR_PADDING, NULL);
        free(body);
    }
}

/* ESP8266 firmware base64-encodes the JSON and drops the last character: a lost '=' is fine,
 * a lost data character is refused; complete and unpadded base64 open too. */
static void test_esp8266_base64(void **state)
{
    size_t extra;

    (void)state;
    for (extra = 0; extra < 3; extra++) {
        char json[64], *text, *body, *broken;
        size_t len;

        snprintf(json, sizeof(json), "{\"data\":{\"value\":300},\"SEQN\":700,\"p\":\"%.*s\"}", (int)extra,
                 "xx");
        text = b64(json, strlen(json));
        len = strlen(text);
        body = NULL;
        assert_int_equal(e2ee_seal_v1_key(KEY128, NULL, text, len, &body), E2EE_OK);
        expect_open(KEY128, body, E2EE_OK, json);
        free(body);

        /* one character lost: a '=' when the JSON length is not a multiple of 3 */
        assert_int_equal(e2ee_seal_v1_key(KEY128, NULL, text, len - 1, &body), E2EE_OK);
        expect_open(KEY128, body, strlen(json) % 3 ? E2EE_OK : E2EE_ERR_PLAINTEXT,
                    strlen(json) % 3 ? json : NULL);
        free(body);

        /* all padding gone ("Zg" for "Zg=="): still the same bytes */
        assert_int_equal(e2ee_seal_v1_key(KEY128, NULL, text, len - (strlen(json) % 3 == 1 ? 2 : 0), &body),
                         E2EE_OK);
        expect_open(KEY128, body, E2EE_OK, json);
        free(body);

        /* a line break inside is not base64 (nor JSON) */
        broken = malloc(len + 1);
        assert_non_null(broken);
        memcpy(broken, text, 4);
        broken[4] = '\n';
        memcpy(broken + 5, text + 4, len - 4);
        assert_int_equal(e2ee_seal_v1_key(KEY128, NULL, broken, len + 1, &body), E2EE_OK);
        expect_open(KEY128, body, E2EE_ERR_PLAINTEXT, NULL);
        free(body);
        free(broken);
        free(text);
    }
}

/* ---- v2 ---- */

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 4 (AES-128) and 16
 * (AES-256): the associated data goes in as the device id. */
static void test_v2_known_answer(void **state)
{
    static const struct {
        const char *key, *ct_tag;
    } cases[] = {
        {"feffe9928665731c6d6a8f9467308308",
         "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa05"
         "1ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47"},
        {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
         "c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b"},
    };
    uint8_t nonce[12], aad[21] = {0}, plain[60], ct_tag[76];
    size_t i, n_plain;

    (void)state;
    unhex("cafebabefacedbaddecaf888", nonce, sizeof(nonce));
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, sizeof(aad) - 1);
    n_plain = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
                    "49a6b525b16aedf5aa0de657ba637b39",
                    plain, sizeof(plain));
    for (i = 0; i < 2; i++) {
        char *want = v2_body(nonce, sizeof(nonce), ct_tag, unhex(cases[i].ct_tag, ct_tag, sizeof(ct_tag)));
        char *env = NULL;
        struct e2ee_msg *m = NULL;

        assert_int_equal(e2ee_seal_v2((const char *)aad, cases[i].key, nonce, plain, n_plain, &env), E2EE_OK);
        assert_string_equal(env, want);
        assert_int_equal(e2ee_decrypt((const char *)aad, cases[i].key, want, strlen(want), &m), E2EE_OK);
        assert_int_equal(e2ee_msg_envelope(m), E2EE_V2);
        assert_int_equal(e2ee_msg_len(m), n_plain);
        assert_memory_equal(e2ee_msg_text(m), plain, n_plain);
        e2ee_msg_free(m);
        /* binary plaintext is no telemetry */
        assert_int_equal(e2ee_open((const char *)aad, cases[i].key, want, strlen(want), &m),
                         E2EE_ERR_PLAINTEXT);
        free(env);
        free(want);
    }
}

static void test_v2_round_trip(void **state)
{
    static const char *const keys[] = {KEY128, KEY256};
    static const char json[] = "{\"data\":{\"value\":300},\"SEQN\":701,\"msg\":\"Küche 🌡\"}";
    size_t k;

    (void)state;
    for (k = 0; k < 2; k++) {
        char *a = seal_v2(keys[k], NULL, json, strlen(json));
        char *b = seal_v2(keys[k], NULL, json, strlen(json));
        struct e2ee_msg *m = NULL;

        assert_string_not_equal(a, b); /* random nonces */
        assert_int_equal(open_as(DEVICE, keys[k], a, &m), E2EE_OK);
        assert_int_equal(e2ee_msg_envelope(m), E2EE_V2);
        assert_string_equal(e2ee_msg_text(m), json);
        e2ee_msg_free(m);
        expect_open(keys[k], b, E2EE_OK, json);
        free(a);
        free(b);
    }
}

/* Any changed bit in nonce, ciphertext or tag, another device id, another key or a cut
 * ciphertext fails the tag; wrong sizes fail before decryption. */
static void test_v2_tampering(void **state)
{
    static const char json[] = "{\"SEQN\":5,\"data\":{\"value\":1}}";
    char *env = seal_v2(KEY128, fixed_nonce, json, strlen(json));
    uint8_t nonce[16], data[128];
    size_t n_nonce = envelope_field(env, "nonce", nonce, sizeof(nonce));
    size_t n_data = envelope_field(env, "data", data, sizeof(data));
    size_t i;
    struct e2ee_msg *m = NULL;
    char *body;

    (void)state;
    assert_int_equal(n_nonce, E2EE_NONCE_LEN);
    assert_int_equal(n_data, strlen(json) + E2EE_TAG_LEN);
    for (i = 0; i < n_nonce + n_data; i++) {
        uint8_t *byte = i < n_nonce ? &nonce[i] : &data[i - n_nonce];

        *byte ^= (uint8_t)(1u << (i % 8));
        body = v2_body(nonce, n_nonce, data, n_data);
        expect_open(KEY128, body, E2EE_ERR_TAG, NULL);
        free(body);
        *byte ^= (uint8_t)(1u << (i % 8));
    }
    body = v2_body(nonce, n_nonce, data, n_data);
    expect_open(KEY128, body, E2EE_OK, json);
    expect_open("000102030405060708090A0B0C0D0E0E", body, E2EE_ERR_TAG, NULL);
    expect_open(KEY256, body, E2EE_ERR_TAG, NULL);
    expect_open(KEY192, body, E2EE_ERR_KEY, NULL);
    expect_open("not a hex key", body, E2EE_ERR_KEY, NULL);
    assert_int_equal(open_as("5C:CF:7F:12:34:57", KEY128, body, &m), E2EE_ERR_TAG);
    assert_null(m);
    free(body);

    /* truncations */
    body = v2_body(nonce, n_nonce, data, n_data - 1);
    expect_open(KEY128, body, E2EE_ERR_TAG, NULL);
    free(body);
    body = v2_body(nonce, n_nonce, data, E2EE_TAG_LEN - 1);
    expect_open(KEY128, body, E2EE_ERR_LENGTH, NULL);
    free(body);
    body = v2_body(nonce, n_nonce, data, 0);
    expect_open(KEY128, body, E2EE_ERR_LENGTH, NULL);
    free(body);
    body = v2_body(nonce, n_nonce - 1, data, n_data);
    expect_open(KEY128, body, E2EE_ERR_IV, NULL);
    free(body);
    body = v2_body(nonce, n_nonce + 1, data, n_data);
    expect_open(KEY128, body, E2EE_ERR_IV, NULL);
    free(body);
    free(env);
}

/* ---- envelopes, plaintext, bounds ---- */

#define IV_F   "\"iv\":\"" BLOG_IV "\""
#define DATA_F "\"data\":\"" BLOG_CT "\""

static void test_envelope_shapes(void **state)
{
    static const struct {
        const char *body;
        enum e2ee_err err;
    } cases[] = {
        {"{" IV_F "," DATA_F "}", E2EE_OK},
        {" \r\n\t{ " DATA_F " , " IV_F " }\n", E2EE_OK},
        {"{" IV_F
         ",\"data\":\"\\/1aZRwVaw3jv+ct8HS4pCV5lThvTG70M90ARiyAsIDYMkfJE3w8F3bgxaOKVA0rX4m1Mq50VVN0u9gRw"
         "9F2gKE4r2OcY8oECv8bKT80F9pY=\"}",
         E2EE_OK},
        {"{" IV_F "," DATA_F ",\"x\":1}", E2EE_ERR_ENVELOPE},
        {"{" IV_F "," DATA_F "," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{" IV_F "," IV_F "," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"iv\":1," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{" IV_F ",\"data\":null}", E2EE_ERR_ENVELOPE},
        {"{" IV_F ",\"data\":[\"" BLOG_CT "\"]}", E2EE_ERR_ENVELOPE},
        {"{" IV_F "}", E2EE_ERR_ENVELOPE},
        {"{\"IV\":\"" BLOG_IV "\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"nonce\":\"" BLOG_IV "\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"v\":2," IV_F "," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"v\":1," IV_F "," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"v\":\"2\",\"nonce\":\"AQIDBAUGBwgJCgsM\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"v\":2.0,\"nonce\":\"AQIDBAUGBwgJCgsM\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"v\":3,\"nonce\":\"AQIDBAUGBwgJCgsM\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{\"v\":02,\"nonce\":\"AQIDBAUGBwgJCgsM\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{" IV_F "," DATA_F "} x", E2EE_ERR_ENVELOPE},
        {"{" IV_F "," DATA_F "}{}", E2EE_ERR_ENVELOPE},
        {"{" IV_F "," DATA_F ",}", E2EE_ERR_ENVELOPE},
        {"{'iv':\"" BLOG_IV "\"," DATA_F "}", E2EE_ERR_ENVELOPE},
        {"{" IV_F "," DATA_F, E2EE_ERR_ENVELOPE},
        {"[{" IV_F "," DATA_F "}]", E2EE_ERR_ENVELOPE},
        {"\"" BLOG_CT "\"", E2EE_ERR_ENVELOPE},
        {"{}", E2EE_ERR_ENVELOPE},
        {"1", E2EE_ERR_ENVELOPE},
        {"", E2EE_ERR_ENVELOPE},
        {"{" IV_F ",\"data\":\"" BLOG_CT "\n\"}", E2EE_ERR_ENVELOPE}, /* raw control character */
        {"{" IV_F ",\"data\":\"" BLOG_CT "\\n\"}", E2EE_ERR_BASE64},
        {"{" IV_F ",\"data\":\" " BLOG_CT "\"}", E2EE_ERR_BASE64},
        {"{" IV_F
         ",\"data\":\"/1aZRwVaw3jv+ct8HS4pCV5lThvTG70M90ARiyAsIDYMkfJE3w8F3bgxaOKVA0rX4m1Mq50VVN0u9gRw9F2"
         "gKE4r2OcY8oECv8bKT80F9pY\"}",
         E2EE_ERR_BASE64},
        {"{" IV_F
         ",\"data\":\"/1aZRwVaw3jv-ct8HS4pCV5lThvTG70M90ARiyAsIDYMkfJE3w8F3bgxaOKVA0rX4m1Mq50VVN0u9gRw9F"
         "2gKE4r2OcY8oECv8bKT80F9pY=\"}",
         E2EE_ERR_BASE64},
        {"{\"iv\":\"cAFviaDMHejlteGn9/4eQR==\"," DATA_F "}", E2EE_ERR_IV}, /* non-canonical */
        {"{\"iv\":\"cAFviaDMHejlteGn9/4eQQ\"," DATA_F "}", E2EE_ERR_IV},
        {"{\"iv\":\"\"," DATA_F "}", E2EE_ERR_IV},
        {"{" IV_F ",\"data\":\"\"}", E2EE_ERR_LENGTH},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_open(BLOG_KEY, cases[i].body, cases[i].err, cases[i].err == E2EE_OK ? BLOG_JSON : NULL);
}

/* Bodies with bytes a C string cannot hold: a NUL after or inside the envelope. */
static void test_envelope_nul(void **state)
{
    static const char good[] = "{" IV_F "," DATA_F "}";
    char body[sizeof(good) + 1];
    struct e2ee_msg *m = NULL;

    (void)state;
    memcpy(body, good, sizeof(good));
    assert_int_equal(e2ee_open(DEVICE, BLOG_KEY, body, sizeof(good), &m), E2EE_ERR_ENVELOPE);
    body[10] = '\0';
    assert_int_equal(e2ee_open(DEVICE, BLOG_KEY, body, sizeof(good) - 1, &m), E2EE_ERR_ENVELOPE);
    assert_null(m);
}

/* The plaintext must be RFC 8259 JSON in RFC 3629 UTF-8, which json-c alone does not enforce. */
static void test_plaintext_strict(void **state)
{
    static const struct {
        const char *text;
        bool ok;
    } cases[] = {
        {"{\"a\":1}", true},
        {" {\"a\":[1,-2.5e+3,0.5E-1,true,false,null,{}]}\r\n", true},
        {"{\"s\":\"\\u00e9\\n\\\"\\/\",\"k\":\"Küche 🌡 温度\"}", true},
        {"1234", true},
        {"\"x\"", true},
        {"", false},
        {" ", false},
        {"{\"a\":NaN}", false},
        {"{\"a\":Infinity}", false},
        {"{\"a\":-Infinity}", false},
        {"{\"a\":1.}", false},
        {"{\"a\":.5}", false},
        {"{\"a\":01}", false},
        {"{\"a\":-}", false},
        {"{\"a\":1e}", false},
        {"{\"a\":tru}", false},
        {"{\"a\":True}", false},
        {"{'a':1}", false},
        {"{\"a\":\"\x01\"}", false},
        {"{\"a\":\"b\nc\"}", false},
        {"{\"a\":\"b\tc\"}", false},
        {"{\"a\":\"\\x41\"}", false},
        {"{\"a\":\"\\u12\"}", false},
        {"{\"a\":1}x", false},
        {"{\"a\":1}{}", false},
        {"{\"a\":1,}", false},
        {"{\"a\":1]", false},
        {"}{", false},
        {"{\"a\":\"\xc0\xaf\"}", false},         /* overlong */
        {"{\"a\":\"\xed\xa0\x80\"}", false},     /* surrogate */
        {"{\"a\":\"\xf4\x90\x80\x80\"}", false}, /* above U+10FFFF */
        {"{\"a\":\"\xe2\x82\"}", false},         /* truncated */
        {"{\"a\":\"\xff\"}", false},
        {"\xef\xbb\xbf{\"a\":1}", false}, /* byte order mark */
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", false},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *env = seal_v2(KEY128, NULL, cases[i].text, strlen(cases[i].text));

        expect_open(KEY128, env, cases[i].ok ? E2EE_OK : E2EE_ERR_PLAINTEXT,
                    cases[i].ok ? cases[i].text : NULL);
        free(env);
    }
    /* a NUL after valid JSON */
    {
        char *env = seal_v2(KEY128, NULL, "{\"a\":1}", 8);

        expect_open(KEY128, env, E2EE_ERR_PLAINTEXT, NULL);
        free(env);
    }
}

/* Bodies and sealed envelopes stop at E2EE_MAX_BODY bytes. */
static void test_size_limits(void **state)
{
    static const char head[] = "{\"SEQN\":1,\"p\":\"", tail[] = "\"}";
    char *plain = malloc(E2EE_MAX_BODY + 1), *env = NULL, *body;
    size_t n = E2EE_MAX_BODY / 2, env_len;

    (void)state;
    assert_non_null(plain);
    memset(plain, 'x', E2EE_MAX_BODY + 1);
    /* the longest JSON whose v2 envelope fits */
    for (;;) {
        size_t len = strlen(head) + n + 1 + strlen(tail);
        char *next = NULL;
        enum e2ee_err err;

        memcpy(plain, head, strlen(head));
        memset(plain + strlen(head), 'x', n + 1);
        memcpy(plain + len - strlen(tail), tail, strlen(tail));
        err = e2ee_seal_v2(DEVICE, KEY128, NULL, plain, len, &next);
        if (err == E2EE_ERR_TOO_LARGE) {
            assert_null(next);
            break;
        }
        assert_int_equal(err, E2EE_OK);
        free(env);
        env = next;
        n += 1;
    }
    env_len = strlen(env);
    assert_true(env_len <= E2EE_MAX_BODY && env_len > E2EE_MAX_BODY - 8);
    expect_open(KEY128, env, E2EE_OK, NULL);

    /* padded with spaces to the limit it opens, one byte more it does not */
    body = malloc(E2EE_MAX_BODY + 2);
    assert_non_null(body);
    memcpy(body, env, env_len);
    memset(body + env_len, ' ', E2EE_MAX_BODY + 1 - env_len);
    free(env);
    body[E2EE_MAX_BODY] = '\0';
    expect_open(KEY128, body, E2EE_OK, NULL);
    body[E2EE_MAX_BODY] = ' ';
    body[E2EE_MAX_BODY + 1] = '\0';
    expect_open(KEY128, body, E2EE_ERR_TOO_LARGE, NULL);

    assert_int_equal(e2ee_seal_v1_key(KEY128, NULL, plain, E2EE_MAX_BODY + 1, &env), E2EE_ERR_TOO_LARGE);
    assert_null(env);
    assert_int_equal(e2ee_seal_v1_passphrase("pass", NULL, plain, E2EE_MAX_BODY, &env), E2EE_ERR_TOO_LARGE);
    assert_null(env);
    free(body);
    free(plain);
}

static void test_args(void **state)
{
    char long_id[E2EE_MAX_AAD + 2], long_secret[E2EE_MAX_SECRET + 2];
    char *env = NULL;
    struct e2ee_msg *m = NULL;
    const char *body = "{" IV_F "," DATA_F "}";
    size_t len = strlen(body);
    int e;

    (void)state;
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    memset(long_secret, 'a', sizeof(long_secret) - 1);
    long_secret[sizeof(long_secret) - 1] = '\0';
    assert_int_equal(e2ee_open(NULL, BLOG_KEY, body, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open("", BLOG_KEY, body, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open(long_id, BLOG_KEY, body, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open(DEVICE, NULL, body, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open(DEVICE, "", body, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open(DEVICE, long_secret, body, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open(DEVICE, BLOG_KEY, NULL, len, &m), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_open(DEVICE, BLOG_KEY, NULL, 0, &m), E2EE_ERR_ENVELOPE);
    assert_int_equal(e2ee_open(DEVICE, BLOG_KEY, body, len, NULL), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_decrypt(DEVICE, BLOG_KEY, body, len, NULL), E2EE_ERR_ARGS);
    assert_null(m);
    long_id[E2EE_MAX_AAD] = '\0';
    long_secret[E2EE_MAX_SECRET] = '\0';
    expect_open(BLOG_KEY, body, E2EE_OK, BLOG_JSON);
    assert_int_equal(e2ee_open(long_id, BLOG_KEY, body, len, &m), E2EE_OK);
    e2ee_msg_free(m);
    assert_int_equal(e2ee_open(DEVICE, long_secret, body, len, &m), E2EE_ERR_KEY);

    assert_int_equal(e2ee_seal_v2(NULL, KEY128, NULL, "{}", 2, &env), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_seal_v2(DEVICE, KEY192, NULL, "{}", 2, &env), E2EE_ERR_KEY);
    assert_int_equal(e2ee_seal_v1_key("abc", NULL, "{}", 2, &env), E2EE_ERR_KEY);
    assert_int_equal(e2ee_seal_v1_key(KEY128, NULL, NULL, 2, &env), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_seal_v1_passphrase("", NULL, "{}", 2, &env), E2EE_ERR_ARGS);
    assert_int_equal(e2ee_seal_v1_passphrase("p", NULL, "{}", 2, NULL), E2EE_ERR_ARGS);
    assert_null(env);
    e2ee_msg_free(NULL);

    /* every code has its own description */
    for (e = E2EE_OK; e <= E2EE_ERR_CRYPTO; e++) {
        int f;

        assert_string_not_equal(e2ee_strerror((enum e2ee_err)e), "unknown error");
        for (f = E2EE_OK; f < e; f++)
            assert_string_not_equal(e2ee_strerror((enum e2ee_err)e), e2ee_strerror((enum e2ee_err)f));
    }
    assert_string_equal(e2ee_strerror((enum e2ee_err)(E2EE_ERR_CRYPTO + 1)), "unknown error");
}

/* ---- base64 ---- */

static void expect_b64(const char *text, unsigned flags, const char *want)
{
    uint8_t out[64];
    size_t n = 0;
    int rc = b64_decode(text, strlen(text), flags, out, sizeof(out), &n);

    if (!want) {
        if (rc == 0)
            fail_msg("\"%s\" decoded but should not", text);
        assert_int_equal(rc, -EINVAL);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_true(b64_decoded_max(strlen(text)) >= n);
}

static void test_base64(void **state)
{
    /* RFC 4648 section 10 */
    static const char *const rfc[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    static const char *const bad[] = {"Zg=",    "Zg",    "Zh==", "Zm9=", "Z===",     "Zg===", "Zm9vY",
                                      "Zm9v\n", " Zm9v", "Zm=v", "=Zm9", "Zm9v====", "Zm-_"};
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char enc[16], text[5] = "xAAA";
    uint8_t out[8];
    size_t i, n;
    unsigned c;

    (void)state;
    for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
        b64_encode((const uint8_t *)rfc[i][0], strlen(rfc[i][0]), enc);
        assert_string_equal(enc, rfc[i][1]);
        assert_int_equal(b64_encoded_len(strlen(rfc[i][0])), strlen(rfc[i][1]));
        expect_b64(rfc[i][1], B64_STRICT, rfc[i][0]);
        expect_b64(rfc[i][1], B64_PAD_OPTIONAL, rfc[i][0]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_b64(bad[i], B64_STRICT, NULL);
    /* without padding, or one '=' short, when allowed */
    expect_b64("Zg=", B64_PAD_OPTIONAL, "f");
    expect_b64("Zg", B64_PAD_OPTIONAL, "f");
    expect_b64("Zm8", B64_PAD_OPTIONAL, "fo");
    expect_b64("Zm9vYmE", B64_PAD_OPTIONAL, "fooba");
    for (i = 2; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_b64(bad[i], B64_PAD_OPTIONAL, NULL);
    expect_b64("Zh", B64_PAD_OPTIONAL, NULL);
    expect_b64("Zm9v=", B64_PAD_OPTIONAL, NULL); /* padding where none belongs */
    expect_b64("Zm8==", B64_PAD_OPTIONAL, NULL); /* one '=' too many */

    /* every byte value: only the 64 letters decode, each to its index */
    for (c = 0; c < 256; c++) {
        const char *hit = c ? memchr(alphabet, (int)c, 64) : NULL;
        int rc;

        text[0] = (char)c;
        rc = b64_decode(text, 4, B64_STRICT, out, sizeof(out), &n);
        assert_int_equal(rc, hit ? 0 : -EINVAL);
        if (hit)
            assert_int_equal(out[0] >> 2, hit - alphabet);
    }
    /* output buffer too small; decoding in place */
    assert_int_equal(b64_decode("Zm9vYmFy", 8, B64_STRICT, out, 5, &n), -ENOBUFS);
    memcpy(enc, "Zm9vYmFy", 9);
    assert_int_equal(b64_decode(enc, 8, B64_STRICT, (uint8_t *)enc, sizeof(enc), &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(enc, "foobar", 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blog_message),
        cmocka_unit_test(test_secret_rules),
        cmocka_unit_test(test_v1_key_round_trip),
        cmocka_unit_test(test_pkcs7_strict),
        cmocka_unit_test(test_esp8266_base64),
        cmocka_unit_test(test_v2_known_answer),
        cmocka_unit_test(test_v2_round_trip),
        cmocka_unit_test(test_v2_tampering),
        cmocka_unit_test(test_envelope_shapes),
        cmocka_unit_test(test_envelope_nul),
        cmocka_unit_test(test_plaintext_strict),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_base64),
    };
    struct json_object *doc = load_vectors(), *list;
    struct CMUnitTest *vector_tests;
    size_t i, n;
    int failed;

    if (!doc || !json_object_object_get_ex(doc, "vectors", &list) || json_object_array_length(list) == 0)
        return 1;
    n = json_object_array_length(list);
    vector_tests = calloc(n + 1, sizeof(*vector_tests));
    if (!vector_tests)
        return 1;
    vector_tests[0] = (struct CMUnitTest)cmocka_unit_test_prestate(test_vectors_file_complete, doc);
    for (i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(list, i);

        vector_tests[i + 1] = (struct CMUnitTest){vstr(v, "name"), test_vector, NULL, NULL, v};
    }
    failed = cmocka_run_group_tests_name("e2ee", tests, NULL, NULL);
    failed += _cmocka_run_group_tests("cryptojs-public", vector_tests, n + 1, NULL, NULL);
    free(vector_tests);
    json_object_put(doc);
    return failed;
}
