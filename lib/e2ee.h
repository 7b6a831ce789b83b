/* End-to-end-encrypted telemetry envelopes (README "End-to-end-encrypted telemetry"): pure
 * decoders for crypto-js v1 (key+IV, passphrase) and AES-GCM v2 bodies, and the matching sealers. */
#ifndef PROVD_E2EE_H
#define PROVD_E2EE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define E2EE_MAX_BODY      16384 /* longest HTTP body accepted or produced (the server takes 16 KiB) */
#define E2EE_MAX_SECRET    1024  /* longest device secret, in bytes */
#define E2EE_MAX_DEVICE_ID 64    /* longest device id: 1-64 characters */
#define E2EE_MAX_AAD       128   /* longest v2 associated data (e2ee_v2_aad(), sealed configurations) */
#define E2EE_IV_LEN        16    /* v1 key+IV: AES-CBC IV */
#define E2EE_SALT_LEN      8     /* v1 passphrase: OpenSSL "Salted__" salt */
#define E2EE_NONCE_LEN     12    /* v2: AES-GCM nonce */
#define E2EE_TAG_LEN       16    /* v2: AES-GCM tag, appended to the ciphertext */
#define E2EE_KEY_MAX       32    /* the longest AES key */

/* Why a body was refused. Only for the server log: a client must get one answer for all of them,
 * or the server becomes a padding oracle. No code carries any of the plaintext. */
enum e2ee_err {
    E2EE_OK = 0,
    E2EE_ERR_ARGS,      /* NULL argument, empty or oversized device id or secret */
    E2EE_ERR_TOO_LARGE, /* body (or a sealed envelope) longer than E2EE_MAX_BODY */
    E2EE_ERR_ENVELOPE,  /* body is not exactly one of the three envelope objects */
    E2EE_ERR_BASE64,    /* "data" is not strict base64 */
    E2EE_ERR_IV,        /* "iv" or "nonce" is not base64 of the right number of bytes */
    E2EE_ERR_KEY,       /* the secret is not a key this envelope can use (32/48/64 hex; v2: 32/64) */
    E2EE_ERR_FORMAT,    /* passphrase data lacks the "Salted__" header and salt */
    E2EE_ERR_LENGTH,    /* ciphertext length impossible for the cipher */
    E2EE_ERR_PADDING,   /* v1: PKCS#7 padding wrong (wrong key, tampering) */
    E2EE_ERR_TAG,       /* v2: tag mismatch (wrong key, tampering, other device) */
    E2EE_ERR_PLAINTEXT, /* decrypted text is neither UTF-8 JSON nor base64 of it */
    E2EE_ERR_NOMEM,
    E2EE_ERR_CRYPTO, /* libcrypto failed (not the input's fault) */
};

enum e2ee_envelope {
    E2EE_V1_KEY = 1,    /* {"iv":"<b64 16 bytes>","data":"<b64 AES-CBC ciphertext>"} */
    E2EE_V1_PASSPHRASE, /* {"data":"<b64 Salted__ || salt || AES-256-CBC ciphertext>"} */
    E2EE_V2,            /* {"v":2,"nonce":"<b64 12 bytes>","data":"<b64 AES-GCM ciphertext || tag>"} */
};

/* A decrypted message: its bytes and the envelope it came in. */
struct e2ee_msg;

/* Decodes a telemetry body and returns the JSON the device sent.
 * device_id: the associated data of v2, 1-E2EE_MAX_AAD bytes: e2ee_v2_aad() of the device's id
 * and SEQN epoch for telemetry.
 * secret: the device's secret string. When it is exactly 32, 48 or 64 hex digits its bytes are
 * the AES key of v1 key+IV and v2; the string itself is always the passphrase of v1 passphrase.
 * On success *out holds the JSON text (UTF-8, RFC 8259, no NUL): the plaintext itself, or the
 * JSON inside it when the device base64-encoded it first (ESP8266; a missing final '=' is fine).
 * On failure *out is NULL. After decryption the code does the same work whether or not the
 * padding was valid and only then decides, so timing does not tell padding from later errors. */
enum e2ee_err e2ee_open(const char *device_id, const char *secret, const void *body, size_t len,
                        struct e2ee_msg **out);

/* Like e2ee_open() but returns the decrypted bytes exactly as sent: no base64 unwrapping, no
 * UTF-8 or JSON check. For tests and tools that compare plaintexts; servers use e2ee_open(). */
enum e2ee_err e2ee_decrypt(const char *device_id, const char *secret, const void *body, size_t len,
                           struct e2ee_msg **out);

/* The message's bytes, NUL-terminated (borrowed, valid until e2ee_msg_free()). */
const char *e2ee_msg_text(const struct e2ee_msg *msg);
size_t e2ee_msg_len(const struct e2ee_msg *msg);
enum e2ee_envelope e2ee_msg_envelope(const struct e2ee_msg *msg);
/* The JSON of a message from e2ee_open(), parsed (borrowed, valid until e2ee_msg_free());
 * NULL for a message from e2ee_decrypt(). */
struct json_object *e2ee_msg_json(const struct e2ee_msg *msg);

/* Wipes and frees a message; NULL is fine. */
void e2ee_msg_free(struct e2ee_msg *msg);

/* Sealers: on success *envelope is a NUL-terminated JSON body that e2ee_open() accepts; the
 * caller releases it with free(). A NULL nonce, iv or salt means a random one (RAND_bytes).
 * The plaintext is sealed as given (bytes, no check), so tests can seal what servers must refuse. */
enum e2ee_err e2ee_seal_v2(const char *device_id, const char *secret, const uint8_t *nonce, const void *plain,
                           size_t len, char **envelope);
enum e2ee_err e2ee_seal_v1_key(const char *secret, const uint8_t *iv, const void *plain, size_t len,
                               char **envelope);
enum e2ee_err e2ee_seal_v1_passphrase(const char *secret, const uint8_t *salt, const void *plain, size_t len,
                                      char **envelope);

/* The associated data of a device's v2 telemetry in SEQN epoch epoch (an admin's seqn_reset starts
 * the next): the device id alone in epoch 0, as before epochs existed, else "<id>#<epoch>", so
 * that a message sealed before a reset does not open after it. False when it would not fit. */
bool e2ee_v2_aad(const char *device_id, int64_t epoch, char out[E2EE_MAX_AAD + 1]);

/* The AES key a secret stands for: its bytes when it is 32, 48 or 64 hex digits (either case).
 * Returns the key length (16, 24 or 32), or 0 when the secret is no key (a passphrase). */
size_t e2ee_secret_key(const char *secret, uint8_t key[E2EE_KEY_MAX]);

/* A short fixed description of an error code, for the server log. */
const char *e2ee_strerror(enum e2ee_err err);

#endif
