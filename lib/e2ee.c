/* End-to-end-encrypted telemetry: parses the three envelope shapes, decrypts with OpenSSL EVP,
 * checks padding, tag, UTF-8 and JSON strictly, and seals messages for tests and simulators. */
#include "e2ee.h"

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base64.h"
#include "json_strict.h"

#define AES_BLOCK        16
#define AES_KEY_MAX      E2EE_KEY_MAX
#define SALTED_MAGIC     "Salted__"
#define SALTED_MAGIC_LEN 8
#define SALTED_HEADER    (SALTED_MAGIC_LEN + E2EE_SALT_LEN)

struct e2ee_msg {
    enum e2ee_envelope envelope;
    size_t len;  /* bytes in text, before its NUL */
    size_t size; /* bytes allocated for text, all wiped on free */
    char *text;
    struct json_object *json; /* e2ee_open(): text parsed, so that callers need not parse it again */
};

/* A parsed body: which envelope, its IV or nonce, and the decoded "data". */
struct envelope {
    enum e2ee_envelope kind;
    uint8_t iv[E2EE_IV_LEN]; /* v1 key+IV: the IV; v2: the nonce (first 12 bytes) */
    uint8_t *data;
    size_t data_len;
};

static const char *const messages[] = {
    [E2EE_OK] = "ok",
    [E2EE_ERR_ARGS] = "bad arguments (device id or secret missing or too long)",
    [E2EE_ERR_TOO_LARGE] = "body too large",
    [E2EE_ERR_ENVELOPE] = "body is not an E2EE envelope",
    [E2EE_ERR_BASE64] = "data is not strict base64",
    [E2EE_ERR_IV] = "iv or nonce is not base64 of the right length",
    [E2EE_ERR_KEY] = "device secret is not a key for this envelope",
    [E2EE_ERR_FORMAT] = "passphrase data lacks the Salted__ header and salt",
    [E2EE_ERR_LENGTH] = "ciphertext length invalid",
    [E2EE_ERR_PADDING] = "bad padding (wrong key or tampered)",
    [E2EE_ERR_TAG] = "authentication tag mismatch (wrong key, device or tampered)",
    [E2EE_ERR_PLAINTEXT] = "plaintext is not UTF-8 JSON",
    [E2EE_ERR_NOMEM] = "out of memory",
    [E2EE_ERR_CRYPTO] = "libcrypto failure",
};

const char *e2ee_strerror(enum e2ee_err err)
{
    if ((size_t)err < sizeof(messages) / sizeof(messages[0]) && messages[err])
        return messages[err];
    return "unknown error";
}

/* ---- messages ---- */

static struct e2ee_msg *msg_new(enum e2ee_envelope kind, size_t len)
{
    struct e2ee_msg *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->size = len + 1;
    m->text = malloc(m->size);
    if (!m->text) {
        free(m);
        return NULL;
    }
    m->envelope = kind;
    return m;
}

void e2ee_msg_free(struct e2ee_msg *msg)
{
    if (!msg)
        return;
    json_object_put(msg->json);
    OPENSSL_cleanse(msg->text, msg->size);
    free(msg->text);
    free(msg);
}

const char *e2ee_msg_text(const struct e2ee_msg *msg)
{
    return msg->text;
}

size_t e2ee_msg_len(const struct e2ee_msg *msg)
{
    return msg->len;
}

struct json_object *e2ee_msg_json(const struct e2ee_msg *msg)
{
    return msg->json;
}

enum e2ee_envelope e2ee_msg_envelope(const struct e2ee_msg *msg)
{
    return msg->envelope;
}

/* ---- strict JSON ---- */

/* Parses the message's text as strict JSON into m->json; false when it is not JSON. */
static bool parse_json(struct e2ee_msg *m)
{
    size_t members;

    m->json = json_strict_parse(m->text, m->len, &members);
    return m->json != NULL;
}

/* Leaves the JSON in m: the text itself, or else its base64 decoding (ESP8266 firmware encodes
 * before encrypting, and its AES library drops the final character, so padding is optional;
 * a dropped data character leaves non-zero spare bits or broken JSON and is refused). */
static bool find_json(struct e2ee_msg *m)
{
    size_t n;

    if (parse_json(m))
        return true;
    if (b64_decode(m->text, m->len, B64_PAD_OPTIONAL, (uint8_t *)m->text, m->len, &n) != 0)
        return false;
    m->text[n] = '\0';
    m->len = n;
    return parse_json(m);
}

/* ---- envelopes ---- */

static bool string_member(struct json_object *obj, const char *name, struct json_object **value)
{
    return json_object_object_get_ex(obj, name, value) && json_object_is_type(*value, json_type_string);
}

/* Decodes strict base64 that must come to exactly want bytes. */
static bool decode_exact(struct json_object *str, uint8_t *out, size_t want)
{
    size_t got;

    return b64_decode(json_object_get_string(str), (size_t)json_object_get_string_len(str), B64_STRICT, out,
                      want, &got) == 0 &&
           got == want;
}

/* Recognises exactly {"iv","data"}, {"data"} or {"v":2,"nonce","data"} with string fields, and
 * decodes their base64. The body is copied so that it is NUL-terminated for json_strict_parse(). */
static enum e2ee_err parse_envelope(const void *body, size_t len, struct envelope *env)
{
    struct json_object *obj = NULL, *v, *iv = NULL, *data;
    size_t members, count, iv_len = 0, cap;
    enum e2ee_err err = E2EE_ERR_ENVELOPE;
    char *copy = malloc(len + 1);

    if (!copy)
        return E2EE_ERR_NOMEM;
    memcpy(copy, body, len);
    copy[len] = '\0';
    obj = json_strict_parse(copy, len, &members);
    if (!obj || !json_object_is_type(obj, json_type_object))
        goto out;
    /* json-c keeps only the last of a repeated name: the members as written must all count */
    count = (size_t)json_object_object_length(obj);
    if (members != count || !string_member(obj, "data", &data))
        goto out;
    if (count == 3 && json_object_object_get_ex(obj, "v", &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) == 2 && string_member(obj, "nonce", &iv)) {
        env->kind = E2EE_V2;
        iv_len = E2EE_NONCE_LEN;
    } else if (count == 2 && string_member(obj, "iv", &iv)) {
        env->kind = E2EE_V1_KEY;
        iv_len = E2EE_IV_LEN;
    } else if (count == 1) {
        env->kind = E2EE_V1_PASSPHRASE;
    } else {
        goto out;
    }
    err = E2EE_ERR_IV;
    if (iv && !decode_exact(iv, env->iv, iv_len))
        goto out;
    err = E2EE_ERR_NOMEM;
    cap = b64_decoded_max((size_t)json_object_get_string_len(data));
    env->data = malloc(cap + 1);
    if (!env->data)
        goto out;
    err = E2EE_ERR_BASE64;
    if (b64_decode(json_object_get_string(data), (size_t)json_object_get_string_len(data), B64_STRICT,
                   env->data, cap, &env->data_len) != 0)
        goto out;
    err = E2EE_OK;
out:
    json_object_put(obj);
    free(copy);
    return err;
}

/* ---- ciphers ---- */

size_t e2ee_secret_key(const char *secret, uint8_t key[E2EE_KEY_MAX])
{
    size_t n = strlen(secret), i;

    if (n != 32 && n != 48 && n != 64)
        return 0;
    for (i = 0; i < n; i++) {
        int v = OPENSSL_hexchar2int((unsigned char)secret[i]);

        if (v < 0)
            return 0;
        key[i / 2] = (uint8_t)(i % 2 ? key[i / 2] | v : v << 4);
    }
    return n / 2;
}

static const EVP_CIPHER *cbc_cipher(size_t key_len)
{
    return key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
}

/* v2 is AES-128-GCM or AES-256-GCM only. */
static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
    return key_len == 16 ? EVP_aes_128_gcm() : key_len == 32 ? EVP_aes_256_gcm() : NULL;
}

/* AES-CBC over in[0..n) into out. Encrypting adds PKCS#7 padding (out needs n + 16 bytes);
 * decrypting leaves the padding for pkcs7_mask(). Returns the output length, or -1. */
static int cbc_run(const EVP_CIPHER *cipher, int enc, const uint8_t *key, const uint8_t *iv,
                   const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, last = 0;
    bool ok = ctx && EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc) == 1 &&
              EVP_CIPHER_CTX_set_padding(ctx, enc) == 1 &&
              EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1 &&
              EVP_CipherFinal_ex(ctx, out + len, &last) == 1;

    EVP_CIPHER_CTX_free(ctx);
    return ok ? len + last : -1;
}

/* AES-GCM over in[0..n) into out with device_id (e2ee_v2_aad()) as associated data, 12-byte nonce.
 * Encrypting writes the tag to tag; decrypting checks tag and answers E2EE_ERR_TAG on mismatch. */
static enum e2ee_err gcm_run(const EVP_CIPHER *cipher, int enc, const uint8_t *key, const uint8_t *nonce,
                             const char *device_id, const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, last = 0;
    enum e2ee_err err = E2EE_ERR_CRYPTO;

    if (!ctx || EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, E2EE_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &len, (const uint8_t *)device_id, (int)strlen(device_id)) != 1 ||
        EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 ||
        (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, E2EE_TAG_LEN, tag) != 1))
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + len, &last) != 1) {
        err = enc ? E2EE_ERR_CRYPTO : E2EE_ERR_TAG;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, E2EE_TAG_LEN, tag) != 1)
        goto out;
    err = E2EE_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return err;
}

/* All ones when x < y, else zero (x, y below 2^31). */
static unsigned ct_lt(unsigned x, unsigned y)
{
    return 0u - ((x - y) >> (sizeof(unsigned) * CHAR_BIT - 1));
}

/* All ones when x == y, else zero (x, y below 2^31). */
static unsigned ct_eq(unsigned x, unsigned y)
{
    return 0u - (((x ^ y) - 1u) >> (sizeof(unsigned) * CHAR_BIT - 1));
}

/* Checks the PKCS#7 padding ending the last block: returns all ones if it is valid (1..16 bytes,
 * every one equal to the count), else zero, and sets *pad to its length (0 if invalid). It reads
 * all 16 bytes with no branch on their values, so its time does not show where the padding breaks. */
static unsigned pkcs7_mask(const uint8_t *block, size_t *pad)
{
    unsigned n = block[AES_BLOCK - 1];
    unsigned good = ~ct_lt(n, 1) & ct_lt(n, AES_BLOCK + 1);
    unsigned i;

    for (i = 0; i < AES_BLOCK; i++) {
        unsigned in_pad = ct_lt(AES_BLOCK - 1 - i, n); /* byte i is one of the last n */

        good &= ~in_pad | ct_eq(block[i], n);
    }
    *pad = n & good;
    return good;
}

/* ---- opening ---- */

/* Decrypts CBC ciphertext into a new message. The padding verdict goes to *pad_ok instead of
 * an early return; the message keeps its last block when the padding is invalid. */
static enum e2ee_err cbc_open(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv,
                              const uint8_t *ct, size_t n, enum e2ee_envelope kind, struct e2ee_msg **out,
                              unsigned *pad_ok)
{
    struct e2ee_msg *m;
    size_t pad;

    if (n == 0 || n % AES_BLOCK != 0)
        return E2EE_ERR_LENGTH;
    m = msg_new(kind, n);
    if (!m)
        return E2EE_ERR_NOMEM;
    if (cbc_run(cipher, 0, key, iv, ct, n, (uint8_t *)m->text) != (int)n) {
        e2ee_msg_free(m);
        return E2EE_ERR_CRYPTO;
    }
    *pad_ok = pkcs7_mask((const uint8_t *)m->text + n - AES_BLOCK, &pad);
    m->len = n - pad;
    m->text[m->len] = '\0';
    *out = m;
    return E2EE_OK;
}

static enum e2ee_err open_v1_key(const char *secret, const struct envelope *env, struct e2ee_msg **out,
                                 unsigned *pad_ok)
{
    uint8_t key[AES_KEY_MAX];
    size_t key_len = e2ee_secret_key(secret, key);
    enum e2ee_err err = E2EE_ERR_KEY;

    if (key_len)
        err = cbc_open(cbc_cipher(key_len), key, env->iv, env->data, env->data_len, E2EE_V1_KEY, out, pad_ok);
    OPENSSL_cleanse(key, sizeof(key));
    return err;
}

/* crypto-js's passphrase mode: key and IV from EVP_BytesToKey(MD5, one round) over the secret
 * string's bytes and the salt that follows "Salted__"; always AES-256-CBC. */
static bool passphrase_key(const char *secret, const uint8_t *salt, uint8_t key[AES_KEY_MAX],
                           uint8_t iv[E2EE_IV_LEN])
{
    return EVP_BytesToKey(EVP_aes_256_cbc(), EVP_md5(), salt, (const uint8_t *)secret, (int)strlen(secret), 1,
                          key, iv) == AES_KEY_MAX;
}

static enum e2ee_err open_v1_passphrase(const char *secret, const struct envelope *env, struct e2ee_msg **out,
                                        unsigned *pad_ok)
{
    uint8_t key[AES_KEY_MAX], iv[E2EE_IV_LEN];
    enum e2ee_err err = E2EE_ERR_CRYPTO;

    if (env->data_len < SALTED_HEADER || memcmp(env->data, SALTED_MAGIC, SALTED_MAGIC_LEN) != 0)
        return E2EE_ERR_FORMAT;
    if (passphrase_key(secret, env->data + SALTED_MAGIC_LEN, key, iv))
        err = cbc_open(EVP_aes_256_cbc(), key, iv, env->data + SALTED_HEADER, env->data_len - SALTED_HEADER,
                       E2EE_V1_PASSPHRASE, out, pad_ok);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    return err;
}

/* The tag is checked (EVP_DecryptFinal) before the message is handed on to anything. */
static enum e2ee_err open_v2(const char *device_id, const char *secret, const struct envelope *env,
                             struct e2ee_msg **out)
{
    uint8_t key[AES_KEY_MAX];
    const EVP_CIPHER *cipher = gcm_cipher(e2ee_secret_key(secret, key));
    struct e2ee_msg *m = NULL;
    size_t n;
    enum e2ee_err err = E2EE_ERR_KEY;

    if (!cipher)
        goto out;
    err = E2EE_ERR_LENGTH;
    if (env->data_len < E2EE_TAG_LEN)
        goto out;
    n = env->data_len - E2EE_TAG_LEN;
    err = E2EE_ERR_NOMEM;
    m = msg_new(E2EE_V2, n);
    if (!m)
        goto out;
    err = gcm_run(cipher, 0, key, env->iv, device_id, env->data, n, (uint8_t *)m->text, env->data + n);
    if (err != E2EE_OK)
        goto out;
    m->len = n;
    m->text[n] = '\0';
    *out = m;
    m = NULL;
out:
    e2ee_msg_free(m);
    OPENSSL_cleanse(key, sizeof(key));
    return err;
}

/* Between 1 and max bytes long. */
static bool bounded(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return false;
    n = strnlen(s, max + 1);
    return n >= 1 && n <= max;
}

/* Decrypts a body and, when json is set, finds the JSON in it. v1's padding verdict is acted on
 * only at the end: the JSON work is done whatever the padding said, so timing tells nothing of it. */
static enum e2ee_err open_body(const char *device_id, const char *secret, const void *body, size_t len,
                               bool json, struct e2ee_msg **out)
{
    struct envelope env = {0};
    struct e2ee_msg *m = NULL;
    unsigned pad_ok = ~0u;
    bool json_ok;
    enum e2ee_err err;

    if (!out)
        return E2EE_ERR_ARGS;
    *out = NULL;
    if (!bounded(device_id, E2EE_MAX_AAD) || !bounded(secret, E2EE_MAX_SECRET) || (!body && len))
        return E2EE_ERR_ARGS;
    if (len > E2EE_MAX_BODY)
        return E2EE_ERR_TOO_LARGE;
    err = parse_envelope(body ? body : "", len, &env);
    if (err == E2EE_OK) {
        if (env.kind == E2EE_V2)
            err = open_v2(device_id, secret, &env, &m);
        else if (env.kind == E2EE_V1_KEY)
            err = open_v1_key(secret, &env, &m, &pad_ok);
        else
            err = open_v1_passphrase(secret, &env, &m, &pad_ok);
    }
    free(env.data);
    if (err != E2EE_OK)
        return err;
    json_ok = !json || find_json(m);
    if (!pad_ok)
        err = E2EE_ERR_PADDING;
    else if (!json_ok)
        err = E2EE_ERR_PLAINTEXT;
    if (err != E2EE_OK) {
        e2ee_msg_free(m);
        return err;
    }
    *out = m;
    return E2EE_OK;
}

enum e2ee_err e2ee_open(const char *device_id, const char *secret, const void *body, size_t len,
                        struct e2ee_msg **out)
{
    return open_body(device_id, secret, body, len, true, out);
}

enum e2ee_err e2ee_decrypt(const char *device_id, const char *secret, const void *body, size_t len,
                           struct e2ee_msg **out)
{
    return open_body(device_id, secret, body, len, false, out);
}

/* ---- sealing ---- */

/* Copies a caller's IV, nonce or salt, or draws a random one when given NULL. */
static enum e2ee_err given_or_random(uint8_t *dst, const uint8_t *given, size_t n)
{
    if (given) {
        memcpy(dst, given, n);
        return E2EE_OK;
    }
    return RAND_bytes(dst, (int)n) == 1 ? E2EE_OK : E2EE_ERR_CRYPTO;
}

/* Writes {"v":2,"nonce":..,"data":..}, {"iv":..,"data":..} or {"data":..} around the base64 of
 * iv[0..iv_len) (none for passphrase) and data[0..n). */
static enum e2ee_err envelope_format(enum e2ee_envelope kind, const uint8_t *iv, size_t iv_len,
                                     const uint8_t *data, size_t n, char **envelope)
{
    static const char mid[] = "\",\"data\":\"", tail[] = "\"}";
    const char *head = kind == E2EE_V2       ? "{\"v\":2,\"nonce\":\""
                       : kind == E2EE_V1_KEY ? "{\"iv\":\""
                                             : "{\"data\":\"";
    size_t total = strlen(head) + b64_encoded_len(n) + strlen(tail);
    char *p;

    if (iv)
        total += b64_encoded_len(iv_len) + strlen(mid);
    if (total > E2EE_MAX_BODY)
        return E2EE_ERR_TOO_LARGE;
    *envelope = malloc(total + 1);
    if (!*envelope)
        return E2EE_ERR_NOMEM;
    p = stpcpy(*envelope, head);
    if (iv) {
        b64_encode(iv, iv_len, p);
        p = stpcpy(p + b64_encoded_len(iv_len), mid);
    }
    b64_encode(data, n, p);
    strcpy(p + b64_encoded_len(n), tail);
    return E2EE_OK;
}

/* Checks what every sealer needs and clears *envelope. */
static enum e2ee_err seal_args(const char *secret, const void *plain, size_t len, char **envelope)
{
    if (!envelope)
        return E2EE_ERR_ARGS;
    *envelope = NULL;
    if (!bounded(secret, E2EE_MAX_SECRET) || (!plain && len))
        return E2EE_ERR_ARGS;
    return len > E2EE_MAX_BODY ? E2EE_ERR_TOO_LARGE : E2EE_OK;
}

/* AES-CBC with PKCS#7; with a salt the data is "Salted__" || salt || ciphertext (passphrase
 * envelope), without one the IV travels beside it (key+IV envelope). */
static enum e2ee_err cbc_seal(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv,
                              const uint8_t *salt, const void *plain, size_t len, char **envelope)
{
    size_t head = salt ? SALTED_HEADER : 0;
    uint8_t *buf = malloc(head + len + AES_BLOCK);
    enum e2ee_err err = E2EE_ERR_CRYPTO;
    int n;

    if (!buf)
        return E2EE_ERR_NOMEM;
    if (salt) {
        memcpy(buf, SALTED_MAGIC, SALTED_MAGIC_LEN);
        memcpy(buf + SALTED_MAGIC_LEN, salt, E2EE_SALT_LEN);
    }
    n = cbc_run(cipher, 1, key, iv, plain ? plain : "", len, buf + head);
    if (n >= 0 && salt)
        err = envelope_format(E2EE_V1_PASSPHRASE, NULL, 0, buf, head + (size_t)n, envelope);
    else if (n >= 0)
        err = envelope_format(E2EE_V1_KEY, iv, E2EE_IV_LEN, buf, (size_t)n, envelope);
    free(buf);
    return err;
}

enum e2ee_err e2ee_seal_v1_key(const char *secret, const uint8_t *iv, const void *plain, size_t len,
                               char **envelope)
{
    uint8_t key[AES_KEY_MAX], iv_buf[E2EE_IV_LEN];
    size_t key_len;
    enum e2ee_err err = seal_args(secret, plain, len, envelope);

    if (err != E2EE_OK)
        return err;
    key_len = e2ee_secret_key(secret, key);
    err = key_len ? given_or_random(iv_buf, iv, sizeof(iv_buf)) : E2EE_ERR_KEY;
    if (err == E2EE_OK)
        err = cbc_seal(cbc_cipher(key_len), key, iv_buf, NULL, plain, len, envelope);
    OPENSSL_cleanse(key, sizeof(key));
    return err;
}

enum e2ee_err e2ee_seal_v1_passphrase(const char *secret, const uint8_t *salt, const void *plain, size_t len,
                                      char **envelope)
{
    uint8_t key[AES_KEY_MAX], iv[E2EE_IV_LEN], salt_buf[E2EE_SALT_LEN];
    enum e2ee_err err = seal_args(secret, plain, len, envelope);

    if (err == E2EE_OK)
        err = given_or_random(salt_buf, salt, sizeof(salt_buf));
    if (err == E2EE_OK)
        err = passphrase_key(secret, salt_buf, key, iv) ? E2EE_OK : E2EE_ERR_CRYPTO;
    if (err == E2EE_OK)
        err = cbc_seal(EVP_aes_256_cbc(), key, iv, salt_buf, plain, len, envelope);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    return err;
}

enum e2ee_err e2ee_seal_v2(const char *device_id, const char *secret, const uint8_t *nonce, const void *plain,
                           size_t len, char **envelope)
{
    uint8_t key[AES_KEY_MAX], nonce_buf[E2EE_NONCE_LEN];
    const EVP_CIPHER *cipher;
    uint8_t *buf = NULL;
    enum e2ee_err err = seal_args(secret, plain, len, envelope);

    if (err != E2EE_OK)
        return err;
    if (!bounded(device_id, E2EE_MAX_AAD))
        return E2EE_ERR_ARGS;
    cipher = gcm_cipher(e2ee_secret_key(secret, key));
    err = cipher ? given_or_random(nonce_buf, nonce, sizeof(nonce_buf)) : E2EE_ERR_KEY;
    if (err == E2EE_OK) {
        buf = malloc(len + E2EE_TAG_LEN);
        err = buf ? E2EE_OK : E2EE_ERR_NOMEM;
    }
    if (err == E2EE_OK)
        err = gcm_run(cipher, 1, key, nonce_buf, device_id, plain ? plain : "", len, buf, buf + len);
    if (err == E2EE_OK)
        err = envelope_format(E2EE_V2, nonce_buf, sizeof(nonce_buf), buf, len + E2EE_TAG_LEN, envelope);
    free(buf);
    OPENSSL_cleanse(key, sizeof(key));
    return err;
}

bool e2ee_v2_aad(const char *device_id, int64_t epoch, char out[E2EE_MAX_AAD + 1])
{
    int n = epoch == 0 ? snprintf(out, E2EE_MAX_AAD + 1, "%s", device_id)
                       : snprintf(out, E2EE_MAX_AAD + 1, "%s#%lld", device_id, (long long)epoch);
    return n > 0 && n <= E2EE_MAX_AAD;
}
