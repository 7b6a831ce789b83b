/* Random secrets from OpenSSL's CSPRNG and SHA-256 through EVP. */
#include "secret.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "validate.h"

bool secret_random_hex(char *out, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char bytes[64];
    if (n > sizeof bytes || RAND_bytes(bytes, (int)n) != 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
    return true;
}

bool secret_new_token(char out[TOKEN_LEN + 1])
{
    memcpy(out, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
    return secret_random_hex(out + sizeof TOKEN_PREFIX - 1, 32);
}

void secret_sha256(const char *text, size_t len, unsigned char out[32])
{
    EVP_Digest(text, len, out, NULL, EVP_sha256(), NULL);
}

bool secret_valid_device_key(const char *key)
{
    size_t len = strlen(key);
    return len > 0 && len <= SECRET_MAX_LEN && valid_text(key, len);
}
