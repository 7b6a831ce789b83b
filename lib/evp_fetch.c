/* Algorithms fetched once (evp_fetch.h), freed at exit before libcrypto's own clean-up (which
 * registered earlier, so runs later). */
#include "evp_fetch.h"

#include <pthread.h>
#include <stdlib.h>

static EVP_MD *sha256_md;
static EVP_CIPHER *aes_256_gcm_cipher;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

static void free_fetched(void)
{
    EVP_MD_free(sha256_md);
    EVP_CIPHER_free(aes_256_gcm_cipher);
}

static void fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    aes_256_gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    atexit(free_fetched);
}

const EVP_MD *evp_sha256(void)
{
    pthread_once(&fetched, fetch);
    return sha256_md;
}

const EVP_CIPHER *evp_aes_256_gcm(void)
{
    pthread_once(&fetched, fetch);
    return aes_256_gcm_cipher;
}
