/* fw_envelope.c: plaintext `{...reading..., "SEQN":N}`, encryption through the platform, and
 * the base64 JSON envelope. Padding is done here so every AES library behaves the same. */
#include "fw_envelope.h"

#include <stdbool.h>
#include <string.h>

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN   16
#define AES_BLOCK     16

int fw_envelope_key_valid(const struct fw_envelope_key *key)
{
    if (key->version == FW_ENVELOPE_V2)
        return key->key_len == 16 ? 0 : -1;
    return key->key_len == 16 || key->key_len == 24 || key->key_len == 32 ? 0 : -1;
}

/* Whether the object text `{...}` has no members. */
static bool object_is_empty(const char *obj, size_t len)
{
    size_t i;

    for (i = 1; i + 1 < len; i++)
        if (obj[i] != ' ' && obj[i] != '\t' && obj[i] != '\n' && obj[i] != '\r')
            return false;
    return true;
}

/* Writes the plaintext into scratch->plain; returns its length, or 0 if it does not fit. */
static size_t build_plaintext(const char *reading, size_t reading_len, uint32_t seqn,
                              struct fw_envelope_scratch *scratch)
{
    struct fw_str plain;

    fw_str_init(&plain, scratch->plain, FW_PLAIN_MAX + 1);
    fw_str_putn(&plain, reading, reading_len - 1); /* without the closing brace */
    fw_str_put(&plain, object_is_empty(reading, reading_len) ? "\"SEQN\":" : ",\"SEQN\":");
    fw_str_put_u32(&plain, seqn);
    fw_str_put(&plain, "}");
    return fw_str_ok(&plain) ? plain.len : 0;
}

/* {<head><base64 iv>","data":"<base64 ciphertext>"}: the shape both versions share. */
static void put_envelope(struct fw_str *out, const char *head, const uint8_t *iv, size_t iv_len,
                         const uint8_t *cipher, size_t cipher_len)
{
    fw_str_put(out, head);
    fw_str_put_base64(out, iv, iv_len);
    fw_str_put(out, "\",\"data\":\"");
    fw_str_put_base64(out, cipher, cipher_len);
    fw_str_put(out, "\"}");
}

static int build_v2(const struct fw_platform *plat, const struct fw_envelope_key *key, const char *device_id,
                    size_t plain_len, struct fw_envelope_scratch *scratch, struct fw_str *out)
{
    uint8_t nonce[GCM_NONCE_LEN];

    if (plat->random(plat->user_data, nonce, sizeof nonce) != 0 ||
        plat->aes_gcm_encrypt(plat->user_data, key->key, nonce, (const uint8_t *)device_id, strlen(device_id),
                              (const uint8_t *)scratch->plain, plain_len, scratch->cipher,
                              scratch->cipher + plain_len) != 0)
        return -1;
    put_envelope(out, "{\"v\":2,\"nonce\":\"", nonce, sizeof nonce, scratch->cipher, plain_len + GCM_TAG_LEN);
    return 0;
}

static int build_v1(const struct fw_platform *plat, const struct fw_envelope_key *key, size_t plain_len,
                    struct fw_envelope_scratch *scratch, struct fw_str *out)
{
    uint8_t iv[AES_BLOCK];
    size_t pad = AES_BLOCK - plain_len % AES_BLOCK; /* PKCS#7: 1..16 bytes, each worth `pad` */

    memset(scratch->plain + plain_len, (int)pad, pad);
    if (plat->random(plat->user_data, iv, sizeof iv) != 0 ||
        plat->aes_cbc_encrypt(plat->user_data, key->key, key->key_len, iv, (const uint8_t *)scratch->plain,
                              plain_len + pad, scratch->cipher) != 0)
        return -1;
    put_envelope(out, "{\"iv\":\"", iv, sizeof iv, scratch->cipher, plain_len + pad);
    return 0;
}

int fw_envelope_build(const struct fw_platform *plat, const struct fw_envelope_key *key,
                      const char *device_id, const char *reading, size_t reading_len, uint32_t seqn,
                      struct fw_envelope_scratch *scratch, struct fw_str *out)
{
    size_t plain_len;
    int rc;

    if (reading_len < 2 || reading_len > FW_READING_MAX)
        return -1;
    plain_len = build_plaintext(reading, reading_len, seqn, scratch);
    if (plain_len == 0)
        return -1;
    if (key->version == FW_ENVELOPE_V2)
        rc = build_v2(plat, key, device_id, plain_len, scratch, out);
    else
        rc = build_v1(plat, key, plain_len, scratch, out);
    return rc == 0 && fw_str_ok(out) ? 0 : -1;
}
