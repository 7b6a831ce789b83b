/* Device authentication (ARCHITECTURE.md "Device trust"): the proof a keyed device puts on each
 * call, its parser and checker, and the sealing of the configuration sent back. Pure: bytes in,
 * bytes out; the keys are derived from the device's secret, never the secret itself. */
#ifndef PROVD_DEVICE_AUTH_H
#define PROVD_DEVICE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_AUTH_HEADER      "X-Provd-Auth" /* the proof: "1:<t>:<mac>" */
#define DEVICE_AUTH_TIME_HEADER "X-Provd-Time" /* the server's clock, Unix seconds, in answers */
#define DEVICE_AUTH_WINDOW_S    120            /* |server time - t| accepted */
#define DEVICE_AUTH_MAC_LEN     32             /* HMAC-SHA256 */
#define DEVICE_AUTH_T_DIGITS    12             /* t: 1-12 decimal digits, no sign, no leading zero */
#define DEVICE_AUTH_PROOF_MAX   (2 + DEVICE_AUTH_T_DIGITS + 1 + 2 * DEVICE_AUTH_MAC_LEN)

struct device_proof {
    int64_t t; /* the device's idea of the server's clock when it signed (Unix seconds) */
    uint8_t mac[DEVICE_AUTH_MAC_LEN];
};

/* What a proof covers: the request as the server sees it. */
struct device_call {
    const char *method; /* "GET", "POST" */
    const char *path;   /* "/api/devices/<id>..." without the query */
    const char *query;  /* the raw query string, "" when none */
    const void *body;
    size_t body_len;
};

/* Parses the header's value text[0..len): exactly "1:" t ":" 64 lower-case hex digits. */
bool device_proof_parse(const char *text, size_t len, struct device_proof *out);
/* Writes the header's value for p into out (NUL-terminated). */
void device_proof_format(const struct device_proof *p, char out[DEVICE_AUTH_PROOF_MAX + 1]);

/* Keys are derived from the secret's key K: the AES key's bytes when the secret is 32, 48 or 64
 * hex digits (e2ee_secret_key()), else the secret's text (a passphrase).
 * p->mac = HMAC-SHA256(auth key, "provd-auth-1\n" method "\n" path ["?" query] "\n"
 * hex(SHA-256(body)) "\n" t), the auth key being HMAC-SHA256(K, "provd device auth 1").
 * false when libcrypto fails. */
bool device_proof_sign(const char *secret, const struct device_call *call, int64_t t, struct device_proof *p);

enum device_proof_verdict {
    DEVICE_PROOF_OK,
    DEVICE_PROOF_STALE,  /* t is more than DEVICE_AUTH_WINDOW_S from now */
    DEVICE_PROOF_FORGED, /* the MAC is not this call's under this secret */
};
/* Checks p against the call at now; the MACs are compared in constant time. */
enum device_proof_verdict device_proof_check(const char *secret, const struct device_call *call,
                                             const struct device_proof *p, int64_t now);

/* The configuration for cfgsn sealed for deviceid: a v2 envelope (e2ee.h) under the config key,
 * HMAC-SHA256(K, "provd config seal 1") cut to 16 bytes (AES-128-GCM), associated data
 * "<deviceid>/config/<cfgsn>". nonce: 12 bytes, NULL for random. On success *sealed is a JSON
 * object text the caller frees. */
bool device_config_seal(const char *secret, const char *deviceid, int64_t cfgsn, const uint8_t *nonce,
                        const char *plain, size_t len, char **sealed);
/* Opens what device_config_seal() made for the same device and cfgsn: *plain (freed by the caller,
 * NUL-terminated, *len bytes) or false when it is not authentic. */
bool device_config_open(const char *secret, const char *deviceid, int64_t cfgsn, const char *sealed,
                        size_t sealed_len, char **plain, size_t *len);

/* The password of a keyed device's Arduino update client (GET /api/ota), which can send nothing
 * but HTTP Basic (setAuthorization(id, password)): DEVICE_OTA_PASSWORD_LEN lower-case hex digits
 * of HMAC-SHA256(K, "provd ota basic 1") cut to 16 bytes, K as above. false when libcrypto fails. */
#define DEVICE_OTA_PASSWORD_LEN 32
bool device_ota_password(const char *secret, char out[DEVICE_OTA_PASSWORD_LEN + 1]);
/* Whether authorization (an Authorization header's value) is "Basic " and base64 of
 * "<user>:<password>" with user equal to deviceid and password device_ota_password(secret); the
 * password is compared in constant time. */
bool device_ota_basic_check(const char *secret, const char *deviceid, const char *authorization);

#endif
