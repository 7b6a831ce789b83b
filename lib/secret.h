/* Random secrets (admin tokens, device keys) and the SHA-256 under which tokens are stored. */
#ifndef PROVD_SECRET_H
#define PROVD_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_PREFIX   "provd_"
#define TOKEN_LEN      (sizeof TOKEN_PREFIX - 1 + 64) /* prefix + 32 random bytes in hex */
#define DEVICE_KEY_LEN 32                             /* 16 random bytes in hex: an AES-128 key */
#define SECRET_MAX_LEN 256                            /* bytes: the longest device secret accepted */

/* Fills out with 2*n hex digits from n random bytes and a NUL; false if no randomness. */
bool secret_random_hex(char *out, size_t n);
bool secret_new_token(char out[TOKEN_LEN + 1]);
void secret_sha256(const char *text, size_t len, unsigned char out[32]);
/* A device secret set by hand: 1-256 bytes of UTF-8 without control characters (a crypto-js
 * passphrase may hold spaces and any language). */
bool secret_valid_device_key(const char *key);

#endif
