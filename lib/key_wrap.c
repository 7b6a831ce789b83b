/* Device keys sealed for the database: "provd-key1:" and base64 of nonce, ciphertext and tag. */
#include "key_wrap.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "evp_fetch.h"

#define NONCE_LEN 12
#define TAG_LEN   16
#define BLOB_MAX  (NONCE_LEN + SECRET_MAX_LEN + TAG_LEN)

bool key_is_sealed(const char *stored)
{
    return strncmp(stored, KEY_WRAP_PREFIX, sizeof KEY_WRAP_PREFIX - 1) == 0;
}

/* One AES-256-GCM pass: in[0..n) to out with deviceid as associated data; the tag is written
 * when sealing, checked when opening. */
static bool gcm(int seal, const struct server_key *key, const uint8_t *nonce, const char *deviceid,
                const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    bool ok = ctx && EVP_CipherInit_ex(ctx, evp_aes_256_gcm(), NULL, key->bytes, nonce, seal) == 1 &&
              EVP_CipherUpdate(ctx, NULL, &len, (const uint8_t *)deviceid, (int)strlen(deviceid)) == 1 &&
              EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1 &&
              (seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
              EVP_CipherFinal_ex(ctx, out + len, &len) == 1 &&
              (!seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

bool key_seal(const struct server_key *key, const char *deviceid, const char *plain, char out[KEY_WRAP_MAX])
{
    uint8_t blob[BLOB_MAX];
    size_t n = strlen(plain);
    if (n > SECRET_MAX_LEN || RAND_bytes(blob, NONCE_LEN) != 1 ||
        !gcm(1, key, blob, deviceid, (const uint8_t *)plain, n, blob + NONCE_LEN, blob + NONCE_LEN + n))
        return false;
    memcpy(out, KEY_WRAP_PREFIX, sizeof KEY_WRAP_PREFIX - 1);
    b64_encode(blob, NONCE_LEN + n + TAG_LEN, out + sizeof KEY_WRAP_PREFIX - 1);
    return true;
}

bool key_open(const struct server_key *key, const char *deviceid, const char *sealed, char *plain,
              size_t plain_len)
{
    uint8_t blob[BLOB_MAX + 2]; /* b64_decoded_max() counts padding as data */
    size_t len;
    const char *text = sealed + sizeof KEY_WRAP_PREFIX - 1;
    if (!key_is_sealed(sealed) || b64_decoded_max(strlen(text)) > sizeof blob ||
        b64_decode(text, strlen(text), B64_STRICT, blob, sizeof blob, &len) != 0 ||
        len < NONCE_LEN + TAG_LEN || len > BLOB_MAX || len - NONCE_LEN - TAG_LEN >= plain_len)
        return false;
    size_t n = len - NONCE_LEN - TAG_LEN;
    bool ok = gcm(0, key, blob, deviceid, blob + NONCE_LEN, n, (uint8_t *)plain, blob + NONCE_LEN + n);
    plain[ok ? n : 0] = '\0';
    if (!ok)
        OPENSSL_cleanse(plain, plain_len);
    return ok;
}
