/* Firmware images: their digests (what devices check: MD5 for the ESP8266 Arduino updater,
 * SHA-256 for the rest) and the ESP8266 Arduino core's signature, checked at upload. Pure. */
#ifndef PROVD_FIRMWARE_IMAGE_H
#define PROVD_FIRMWARE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define FIRMWARE_SHA256_HEX  64
#define FIRMWARE_MD5_HEX     32

/* Lower-case hex. */
struct firmware_digests {
    char sha256[FIRMWARE_SHA256_HEX + 1];
    char md5[FIRMWARE_MD5_HEX + 1];
};
/* false when libcrypto fails. */
bool firmware_digest(const void *image, size_t len, struct firmware_digests *out);

/* The ESP8266 Arduino core's signed image (cores/esp8266/Updater.cpp, UpdaterClass::end()): the
 * payload, then an RSA PKCS#1 v1.5 signature of the payload's SHA-256, then the signature's length
 * as a 32-bit little-endian number. */
enum firmware_signature {
    FIRMWARE_SIGNATURE_OK,
    FIRMWARE_SIGNATURE_MISSING,    /* too short for a signature of the key's size and its length */
    FIRMWARE_SIGNATURE_LENGTH,     /* the length field is not the key's signature size */
    FIRMWARE_SIGNATURE_MISMATCH,   /* not a signature of the payload by this key */
};
enum firmware_signature firmware_signature_check(EVP_PKEY *key, const uint8_t *image, size_t len);
/* Says what a verdict means, for a 400's message. */
const char *firmware_signature_strerror(enum firmware_signature verdict);

/* The public key of PROVD_FIRMWARE_PUBKEY: a PEM file holding an RSA key of 2048 bits (the
 * core's signature size); NULL with the reason in err. The caller frees it (EVP_PKEY_free). */
EVP_PKEY *firmware_pubkey_load(const char *path, char *err, size_t err_len);

#endif
