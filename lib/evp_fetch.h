/* OpenSSL algorithms fetched once per process. A fetch per use (what EVP_sha256() and
 * EVP_aes_256_gcm() passed to an Init do, and EVP_MAC and HMAC() by name) took as long as the
 * work itself for the short inputs of a device call. Read-only once made: every thread may share
 * them. NULL when libcrypto has no such algorithm (the caller's Init then fails). */
#ifndef PROVD_EVP_FETCH_H
#define PROVD_EVP_FETCH_H

#include <openssl/evp.h>

const EVP_MD *evp_sha256(void);
const EVP_CIPHER *evp_aes_256_gcm(void);

#endif
