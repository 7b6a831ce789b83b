/* fw_openssl.c: AES-CBC (unpadded), AES-128-GCM both ways, SHA-256 and RAND_bytes for firmware platforms on a host
 * with OpenSSL: one EVP context per call, so any number of simulated devices can share it. */
#include "fw_openssl.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const EVP_CIPHER *cbc_cipher(size_t key_len)
{
    return key_len == 16   ? EVP_aes_128_cbc()
           : key_len == 24 ? EVP_aes_192_cbc()
           : key_len == 32 ? EVP_aes_256_cbc()
                           : NULL;
}

int fw_openssl_aes_cbc(const uint8_t *key, size_t key_len, const uint8_t iv[16], const uint8_t *in,
                       size_t len, uint8_t *out)
{
    const EVP_CIPHER *cipher = cbc_cipher(key_len);
    EVP_CIPHER_CTX *c;
    int n = 0, fin = 0, ok;

    if (!cipher || len % 16 != 0 || len > INT_MAX)
        return -1;
    c = EVP_CIPHER_CTX_new();
    ok = c && EVP_EncryptInit_ex(c, cipher, NULL, key, iv) == 1 && EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
         EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1 && EVP_EncryptFinal_ex(c, out + n, &fin) == 1 &&
         (size_t)n + (size_t)fin == len;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

int fw_openssl_aes_gcm(const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *c;
    int n = 0, fin = 0, ok;

    if (len > INT_MAX || aad_len > INT_MAX)
        return -1;
    c = EVP_CIPHER_CTX_new();
    ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce) == 1 &&
         EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1 &&
         EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1 && EVP_EncryptFinal_ex(c, out + n, &fin) == 1 &&
         (size_t)n + (size_t)fin == len && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

int fw_openssl_aes_gcm_decrypt(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                               size_t aad_len, const uint8_t *in, size_t len, const uint8_t tag[16], uint8_t *out)
{
    EVP_CIPHER_CTX *c;
    int n = 0, fin = 0, ok;

    (void)user_data;
    if (len > INT_MAX || aad_len > INT_MAX)
        return -1;
    c = EVP_CIPHER_CTX_new();
    ok = c && EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce) == 1 &&
         EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1 && EVP_DecryptUpdate(c, out, &n, in, (int)len) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1 &&
         EVP_DecryptFinal_ex(c, out + n, &fin) == 1 && (size_t)n + (size_t)fin == len;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

int fw_openssl_sha256(void *user_data, const struct fw_bytes *parts, size_t n, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned len = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
    size_t i;

    (void)user_data;
    for (i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(c, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* The stream is the EVP context itself: the struct is only declared, to keep EVP out of the header. */
struct fw_openssl_sha256_stream *fw_openssl_sha256_begin(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return (struct fw_openssl_sha256_stream *)c;
}

int fw_openssl_sha256_update(struct fw_openssl_sha256_stream *h, const uint8_t *data, size_t len)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)h, data, len) == 1 ? 0 : -1;
}

int fw_openssl_sha256_end(struct fw_openssl_sha256_stream *h, uint8_t out[32])
{
    unsigned len = 0;
    int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)h, out, &len) == 1 && len == 32;

    fw_openssl_sha256_free(h);
    return ok ? 0 : -1;
}

void fw_openssl_sha256_free(struct fw_openssl_sha256_stream *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

int fw_openssl_random(uint8_t *buf, size_t len)
{
    return len <= INT_MAX && RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}
