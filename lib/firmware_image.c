/* Firmware images (firmware_image.h): digests, and the ESP8266 core's signature checked with
 * OpenSSL's EVP, as the device's BearSSL would (br_rsa_pkcs1_vrfy over SHA-256). */
#include "firmware_image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#define RSA_BITS       2048
#define SIGNATURE_LEN  (RSA_BITS / 8)
#define LENGTH_FIELD   4

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool firmware_digest(const void *image, size_t len, struct firmware_digests *out)
{
    unsigned char sha[32], md5[16];
    if (EVP_Digest(image, len, sha, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(image, len, md5, NULL, EVP_md5(), NULL) != 1)
        return false;
    to_hex(sha, sizeof sha, out->sha256);
    to_hex(md5, sizeof md5, out->md5);
    return true;
}

enum firmware_signature firmware_signature_check(EVP_PKEY *key, const uint8_t *image, size_t len)
{
    if (len < SIGNATURE_LEN + LENGTH_FIELD)
        return FIRMWARE_SIGNATURE_MISSING;
    const uint8_t *field = image + len - LENGTH_FIELD;
    uint32_t sig_len = (uint32_t)field[0] | (uint32_t)field[1] << 8 | (uint32_t)field[2] << 16 |
                       (uint32_t)field[3] << 24;
    if (sig_len != SIGNATURE_LEN)
        return FIRMWARE_SIGNATURE_LENGTH;
    size_t payload = len - LENGTH_FIELD - SIGNATURE_LEN;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
              EVP_DigestVerify(ctx, image + payload, SIGNATURE_LEN, image, payload) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? FIRMWARE_SIGNATURE_OK : FIRMWARE_SIGNATURE_MISMATCH;
}

const char *firmware_signature_strerror(enum firmware_signature verdict)
{
    switch (verdict) {
    case FIRMWARE_SIGNATURE_OK: return "signed";
    case FIRMWARE_SIGNATURE_MISSING: return "the image carries no signature (PROVD_FIRMWARE_PUBKEY is set)";
    case FIRMWARE_SIGNATURE_LENGTH:
        return "the image's last 4 bytes are not the length of an RSA-2048 signature (256, little-endian)";
    case FIRMWARE_SIGNATURE_MISMATCH: break;
    }
    return "the image's signature does not verify with PROVD_FIRMWARE_PUBKEY";
}

EVP_PKEY *firmware_pubkey_load(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "PROVD_FIRMWARE_PUBKEY: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) != RSA_BITS) {
        snprintf(err, err_len, "PROVD_FIRMWARE_PUBKEY: %s holds no PEM RSA public key of %d bits", path, RSA_BITS);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}
