/* Device authentication (device_auth.h): proofs over a call and sealed configurations, keyed by
 * labels over the device's secret so that telemetry, proofs and configurations use three keys. */
#include "device_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64.h"
#include "e2ee.h"
#include "evp_fetch.h"

#define AUTH_LABEL   "provd device auth 1"
#define SEAL_LABEL   "provd config seal 1"
#define OTA_LABEL    "provd ota basic 1"
#define PROOF_PREFIX "provd-auth-1\n"
#define SEAL_KEY_LEN 16

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#define HMAC_BLOCK 64 /* SHA-256's block */

/* HMAC-SHA256 (RFC 2104) of the n parts of text under key; a key longer than a block is hashed
 * first, as the RFC says. */
static bool hmac(const void *key, size_t key_len, const char *const *parts, const size_t *lens, size_t n,
                 uint8_t out[DEVICE_AUTH_MAC_LEN])
{
    uint8_t pad[HMAC_BLOCK] = {0}, inner[DEVICE_AUTH_MAC_LEN];
    const EVP_MD *md = evp_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && md;
    if (ok && key_len > HMAC_BLOCK)
        ok = EVP_Digest(key, key_len, pad, NULL, md, NULL) == 1;
    else if (ok)
        memcpy(pad, key, key_len);
    for (size_t i = 0; i < HMAC_BLOCK; i++)
        pad[i] ^= 0x36;
    ok = ok && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, HMAC_BLOCK) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, inner, NULL) == 1;
    for (size_t i = 0; i < HMAC_BLOCK; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, HMAC_BLOCK) == 1 &&
         EVP_DigestUpdate(ctx, inner, sizeof inner) == 1 && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    OPENSSL_cleanse(pad, sizeof pad);
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* A key of its own for one use: HMAC-SHA256(the secret's key, label), the key being the AES key's
 * bytes when the secret is one (e2ee_secret_key(): what a device holds), else the secret's text. */
static bool derive(const char *secret, const char *label, uint8_t out[DEVICE_AUTH_MAC_LEN])
{
    uint8_t key[E2EE_KEY_MAX];
    size_t key_len = e2ee_secret_key(secret, key), len = strlen(label);
    bool ok = key_len ? hmac(key, key_len, &label, &len, 1, out) : hmac(secret, strlen(secret), &label, &len, 1, out);
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

bool device_proof_parse(const char *text, size_t len, struct device_proof *out)
{
    if (!text || len < 4 || len > DEVICE_AUTH_PROOF_MAX || text[0] != '1' || text[1] != ':')
        return false;
    const char *t = text + 2, *end = text + len;
    const char *colon = memchr(t, ':', (size_t)(end - t));
    size_t digits = colon ? (size_t)(colon - t) : 0;
    if (digits == 0 || digits > DEVICE_AUTH_T_DIGITS || (digits > 1 && t[0] == '0') ||
        (size_t)(end - colon - 1) != 2 * DEVICE_AUTH_MAC_LEN)
        return false;
    out->t = 0;
    for (size_t i = 0; i < digits; i++) {
        if (t[i] < '0' || t[i] > '9')
            return false;
        out->t = out->t * 10 + (t[i] - '0');
    }
    const char *mac = colon + 1;
    for (size_t i = 0; i < DEVICE_AUTH_MAC_LEN; i++) {
        int hi = hex_value(mac[2 * i]), lo = hex_value(mac[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void device_proof_format(const struct device_proof *p, char out[DEVICE_AUTH_PROOF_MAX + 1])
{
    int n = snprintf(out, DEVICE_AUTH_PROOF_MAX + 1, "1:%lld:", (long long)p->t);
    to_hex(p->mac, DEVICE_AUTH_MAC_LEN, out + n);
}

bool device_proof_sign(const char *secret, const struct device_call *call, int64_t t, struct device_proof *p)
{
    uint8_t key[DEVICE_AUTH_MAC_LEN], digest[32];
    char digest_hex[65], tail[2 + DEVICE_AUTH_T_DIGITS + 2];
    bool ok = derive(secret, AUTH_LABEL, key) &&
              EVP_Digest(call->body ? call->body : "", call->body_len, digest, NULL, evp_sha256(), NULL) == 1;
    if (ok) {
        to_hex(digest, sizeof digest, digest_hex);
        snprintf(tail, sizeof tail, "\n%lld", (long long)t);
        bool query = call->query && call->query[0];
        const char *parts[] = {PROOF_PREFIX, call->method, "\n", call->path, query ? "?" : "",
                               query ? call->query : "", "\n", digest_hex, tail};
        size_t lens[sizeof parts / sizeof parts[0]];
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
            lens[i] = strlen(parts[i]);
        ok = hmac(key, sizeof key, parts, lens, sizeof parts / sizeof parts[0], p->mac);
    }
    p->t = t;
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

enum device_proof_verdict device_proof_check(const char *secret, const struct device_call *call,
                                             const struct device_proof *p, int64_t now)
{
    struct device_proof expected;
    if (!device_proof_sign(secret, call, p->t, &expected) ||
        CRYPTO_memcmp(expected.mac, p->mac, DEVICE_AUTH_MAC_LEN) != 0)
        return DEVICE_PROOF_FORGED;
    return p->t < now - DEVICE_AUTH_WINDOW_S || p->t > now + DEVICE_AUTH_WINDOW_S ? DEVICE_PROOF_STALE
                                                                                    : DEVICE_PROOF_OK;
}

/* The config key as the hex secret e2ee.h takes, and the associated data of cfgsn. */
static bool seal_params(const char *secret, const char *deviceid, int64_t cfgsn, char key_hex[2 * SEAL_KEY_LEN + 1],
                        char aad[E2EE_MAX_AAD + 1])
{
    uint8_t key[DEVICE_AUTH_MAC_LEN];
    bool ok = derive(secret, SEAL_LABEL, key);
    to_hex(key, SEAL_KEY_LEN, key_hex);
    OPENSSL_cleanse(key, sizeof key);
    int n = snprintf(aad, E2EE_MAX_AAD + 1, "%s/config/%lld", deviceid, (long long)cfgsn);
    return ok && n > 0 && n <= E2EE_MAX_AAD;
}

bool device_config_seal(const char *secret, const char *deviceid, int64_t cfgsn, const uint8_t *nonce,
                        const char *plain, size_t len, char **sealed)
{
    char key_hex[2 * SEAL_KEY_LEN + 1], aad[E2EE_MAX_AAD + 1];
    *sealed = NULL;
    bool ok = seal_params(secret, deviceid, cfgsn, key_hex, aad) &&
              e2ee_seal_v2(aad, key_hex, nonce, plain, len, sealed) == E2EE_OK;
    OPENSSL_cleanse(key_hex, sizeof key_hex);
    return ok;
}

bool device_config_open(const char *secret, const char *deviceid, int64_t cfgsn, const char *sealed,
                        size_t sealed_len, char **plain, size_t *len)
{
    char key_hex[2 * SEAL_KEY_LEN + 1], aad[E2EE_MAX_AAD + 1];
    struct e2ee_msg *msg = NULL;
    *plain = NULL;
    bool ok = seal_params(secret, deviceid, cfgsn, key_hex, aad) &&
              e2ee_decrypt(aad, key_hex, sealed, sealed_len, &msg) == E2EE_OK &&
              e2ee_msg_envelope(msg) == E2EE_V2 && (*plain = malloc(e2ee_msg_len(msg) + 1)) != NULL;
    if (ok) {
        *len = e2ee_msg_len(msg);
        memcpy(*plain, e2ee_msg_text(msg), *len + 1);
    }
    e2ee_msg_free(msg);
    OPENSSL_cleanse(key_hex, sizeof key_hex);
    return ok;
}

bool device_ota_password(const char *secret, char out[DEVICE_OTA_PASSWORD_LEN + 1])
{
    uint8_t key[DEVICE_AUTH_MAC_LEN];
    bool ok = derive(secret, OTA_LABEL, key);
    to_hex(key, DEVICE_OTA_PASSWORD_LEN / 2, out);
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

/* "Basic " then base64 of user ":" password: the id (at most 64) and 32 hex digits fit in 128. */
#define BASIC_MAX 128

bool device_ota_basic_check(const char *secret, const char *deviceid, const char *authorization)
{
    static const char scheme[] = "Basic ";
    uint8_t plain[BASIC_MAX + 1];
    char expected[DEVICE_OTA_PASSWORD_LEN + 1];
    size_t len = 0, id_len = strlen(deviceid);
    if (!authorization || strncmp(authorization, scheme, sizeof scheme - 1) != 0)
        return false;
    const char *b64 = authorization + sizeof scheme - 1;
    size_t b64_len = strlen(b64);
    bool ok = b64_len <= b64_encoded_len(BASIC_MAX) &&
              b64_decode(b64, b64_len, B64_STRICT, plain, BASIC_MAX, &len) == 0 &&
              len == id_len + 1 + DEVICE_OTA_PASSWORD_LEN && memcmp(plain, deviceid, id_len) == 0 &&
              plain[id_len] == ':' && device_ota_password(secret, expected) &&
              CRYPTO_memcmp(plain + id_len + 1, expected, DEVICE_OTA_PASSWORD_LEN) == 0;
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(expected, sizeof expected);
    return ok;
}
