/* fw_openssl.h: the AES, SHA-256 and random-byte primitives of the firmware platform interface on OpenSSL
 * EVP, shared by the POSIX host (devsim) and the core's scripted unit-test platform. */
#ifndef FW_OPENSSL_H
#define FW_OPENSSL_H

#include <stddef.h>
#include <stdint.h>

#include "fw_platform.h"

/* Each returns 0 on success and -1 on failure, as struct fw_platform expects. */

/* AES-CBC without padding: len is a multiple of 16; key_len 16, 24 or 32. */
int fw_openssl_aes_cbc(const uint8_t *key, size_t key_len, const uint8_t iv[16], const uint8_t *in,
                       size_t len, uint8_t *out);
/* AES-128-GCM, 12-byte nonce, 16-byte tag. */
int fw_openssl_aes_gcm(const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]);
/* struct fw_platform's aes_gcm_decrypt and sha256 as they are (user_data unused). */
int fw_openssl_aes_gcm_decrypt(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                               size_t aad_len, const uint8_t *in, size_t len, const uint8_t tag[16], uint8_t *out);
int fw_openssl_sha256(void *user_data, const struct fw_bytes *parts, size_t n, uint8_t out[32]);
/* A SHA-256 over bytes that arrive piece by piece (a streamed firmware image): NULL without memory. */
struct fw_openssl_sha256_stream;
struct fw_openssl_sha256_stream *fw_openssl_sha256_begin(void);
int fw_openssl_sha256_update(struct fw_openssl_sha256_stream *h, const uint8_t *data, size_t len);
/* The digest into out; h is freed either way. */
int fw_openssl_sha256_end(struct fw_openssl_sha256_stream *h, uint8_t out[32]);
void fw_openssl_sha256_free(struct fw_openssl_sha256_stream *h);
/* Cryptographically strong random bytes (RAND_bytes). */
int fw_openssl_random(uint8_t *buf, size_t len);

#endif
