/* fw_auth.c: HMAC-SHA256 built on the platform's SHA-256, the proof text, the clock offset, and
 * base64 + AES-GCM opening of sealed configurations. */
#include "fw_auth.h"

#include <string.h>

#include "fw_json.h"
#include "fw_str.h"

#define HMAC_BLOCK    64
#define MAX_PARTS     10
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN   16

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* HMAC-SHA256 (RFC 2104) of the n parts under key (at most HMAC_BLOCK bytes). */
static int hmac(const struct fw_platform *plat, const uint8_t *key, size_t key_len, const struct fw_bytes *parts,
                size_t n, uint8_t out[32])
{
    uint8_t pad[HMAC_BLOCK], inner[32];
    struct fw_bytes all[MAX_PARTS + 1];
    size_t i;
    int rc;

    if (key_len > HMAC_BLOCK || n > MAX_PARTS)
        return -1;
    memset(pad, 0, sizeof pad);
    memcpy(pad, key, key_len);
    for (i = 0; i < HMAC_BLOCK; i++)
        pad[i] ^= 0x36;
    all[0].data = pad;
    all[0].len = HMAC_BLOCK;
    for (i = 0; i < n; i++)
        all[i + 1] = parts[i];
    rc = plat->sha256(plat->user_data, all, n + 1, inner);
    for (i = 0; i < HMAC_BLOCK; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    all[1].data = inner;
    all[1].len = sizeof inner;
    if (rc == 0)
        rc = plat->sha256(plat->user_data, all, 2, out);
    memset(pad, 0, sizeof pad);
    return rc == 0 ? 0 : -1;
}

static struct fw_bytes text_part(const char *text, size_t len)
{
    struct fw_bytes b;

    b.data = (const uint8_t *)text;
    b.len = len;
    return b;
}

static int derive(const struct fw_platform *plat, const uint8_t *key, size_t key_len, const char *label,
                  uint8_t out[32])
{
    struct fw_bytes part = text_part(label, strlen(label));

    return hmac(plat, key, key_len, &part, 1, out);
}

int fw_auth_init(struct fw_auth *a, const struct fw_platform *plat, const uint8_t *key, size_t key_len)
{
    memset(a, 0, sizeof *a);
    if (!plat->sha256 || !plat->aes_gcm_decrypt)
        return -1;
    return derive(plat, key, key_len, "provd device auth 1", a->auth_key) == 0 &&
                   derive(plat, key, key_len, "provd config seal 1", a->seal_key) == 0
               ? 0
               : -1;
}

int fw_auth_clock(struct fw_auth *a, int64_t server_time, uint64_t now_ms)
{
    int64_t offset = server_time - (int64_t)(now_ms / 1000u);
    int64_t moved = offset - a->clock_offset;
    int changed;

    if (server_time <= 0)
        return 0;
    changed = !a->has_clock || moved > 1 || moved < -1;
    a->clock_offset = offset;
    a->has_clock = 1;
    return changed;
}

int fw_auth_sign(struct fw_auth *a, const struct fw_platform *plat, const char *method, const char *target,
                 const char *body, size_t body_len, uint64_t now_ms)
{
    uint8_t digest[32], mac[32];
    char hex[65], t_text[12];
    struct fw_bytes parts[8];
    struct fw_str t, proof;
    int64_t now = a->has_clock ? (int64_t)(now_ms / 1000u) + a->clock_offset : 0;

    parts[0] = text_part(body ? body : "", body ? body_len : 0);
    if (now < 0 || now > (int64_t)UINT32_MAX || plat->sha256(plat->user_data, parts, 1, digest) != 0)
        return -1;
    to_hex(digest, sizeof digest, hex);
    fw_str_init(&t, t_text, sizeof t_text);
    fw_str_put_u32(&t, (uint32_t)now);
    parts[0] = text_part("provd-auth-1\n", 13);
    parts[1] = text_part(method, strlen(method));
    parts[2] = text_part("\n", 1);
    parts[3] = text_part(target, strlen(target));
    parts[4] = text_part("\n", 1);
    parts[5] = text_part(hex, 64);
    parts[6] = text_part("\n", 1);
    parts[7] = text_part(t_text, t.len);
    if (!fw_str_ok(&t) || hmac(plat, a->auth_key, sizeof a->auth_key, parts, 8, mac) != 0)
        return -1;
    to_hex(mac, sizeof mac, hex);
    fw_str_init(&proof, a->proof, sizeof a->proof);
    fw_str_put(&proof, "1:");
    fw_str_putn(&proof, t_text, t.len);
    fw_str_put(&proof, ":");
    fw_str_put(&proof, hex);
    return fw_str_ok(&proof) ? 0 : -1;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict padded base64 of a JSON string value (its quotes included) into out; returns the byte
 * count, or -1. */
static long b64_decode(const struct fw_json_value *v, uint8_t *out, size_t cap)
{
    const char *s = v->text + 1;
    size_t len = v->len - 2, i, n = 0;

    if (v->type != FW_JSON_STRING || len % 4 != 0)
        return -1;
    for (i = 0; i < len; i += 4) {
        int c[4], k, pads = 0;
        uint32_t bits = 0;

        for (k = 0; k < 4; k++) {
            c[k] = s[i + k] == '=' && i + 4 == len && k >= 2 ? 0 : b64_value(s[i + k]);
            pads += s[i + k] == '=';
            if (c[k] < 0 || (pads && s[i + k] != '='))
                return -1;
            bits = bits << 6 | (uint32_t)c[k];
        }
        if (n + 3 - (size_t)pads > cap)
            return -1;
        out[n++] = (uint8_t)(bits >> 16);
        if (pads < 2)
            out[n++] = (uint8_t)(bits >> 8);
        if (pads < 1)
            out[n++] = (uint8_t)bits;
    }
    return (long)n;
}

int fw_auth_open_config(const struct fw_auth *a, const struct fw_platform *plat, const char *id, uint32_t cfgsn,
                        const char *sealed, size_t sealed_len, char *out, size_t cap)
{
    struct fw_json_value version, nonce_text, data_text;
    uint8_t nonce[GCM_NONCE_LEN];
    char aad[96];
    struct fw_str aad_str;
    long n;
    size_t ct_len;

    if (fw_json_get(sealed, sealed_len, "v", &version) != FW_JSON_OK || version.len != 1 || version.text[0] != '2' ||
        fw_json_get(sealed, sealed_len, "nonce", &nonce_text) != FW_JSON_OK ||
        fw_json_get(sealed, sealed_len, "data", &data_text) != FW_JSON_OK ||
        b64_decode(&nonce_text, nonce, sizeof nonce) != GCM_NONCE_LEN)
        return -1;
    n = b64_decode(&data_text, (uint8_t *)out, cap);
    if (n < GCM_TAG_LEN || (size_t)n - GCM_TAG_LEN >= cap)
        return -1;
    ct_len = (size_t)n - GCM_TAG_LEN;
    fw_str_init(&aad_str, aad, sizeof aad);
    fw_str_put(&aad_str, id);
    fw_str_put(&aad_str, "/config/");
    fw_str_put_u32(&aad_str, cfgsn);
    if (!fw_str_ok(&aad_str) ||
        plat->aes_gcm_decrypt(plat->user_data, a->seal_key, nonce, (const uint8_t *)aad, aad_str.len,
                              (const uint8_t *)out, ct_len, (const uint8_t *)out + ct_len, (uint8_t *)out) != 0)
        return -1;
    out[ct_len] = '\0';
    return (int)ct_len;
}
