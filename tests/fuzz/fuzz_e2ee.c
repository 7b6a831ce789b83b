/* libFuzzer target for the E2EE decoder: each input is tried as a body (one device and key) and,
 * sealed, as a plaintext; open and decrypt must agree and whatever opens must re-seal and open. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "e2ee.h"

/* The blog's key: a hex key (v1 key+IV, v2) that is also the passphrase of Salted__ bodies. */
#define DEVICE "5C:CF:7F:12:34:56"
#define SECRET "2B7E151628AED2A6ABF7158809CF4F3C"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What opened is NUL-free JSON text; sealed again as v2 it opens to the same text. */
static void check_opened(const struct e2ee_msg *m)
{
    struct e2ee_msg *again = NULL;
    char *env = NULL;
    enum e2ee_err err;

    if (strlen(e2ee_msg_text(m)) != e2ee_msg_len(m))
        abort();
    err = e2ee_seal_v2(DEVICE, SECRET, NULL, e2ee_msg_text(m), e2ee_msg_len(m), &env);
    if (err == E2EE_ERR_TOO_LARGE)
        return;
    if (err != E2EE_OK || e2ee_open(DEVICE, SECRET, env, strlen(env), &again) != E2EE_OK ||
        strcmp(e2ee_msg_text(again), e2ee_msg_text(m)) != 0)
        abort();
    e2ee_msg_free(again);
    free(env);
}

/* The input as a decrypted plaintext, so the UTF-8, JSON and base64 checks see arbitrary bytes:
 * what opens is the input itself or, when shorter, its base64 decoding. */
static void check_as_plaintext(const uint8_t *data, size_t size)
{
    static const uint8_t nonce[E2EE_NONCE_LEN];
    struct e2ee_msg *m = NULL;
    char *env = NULL;

    if (e2ee_seal_v2(DEVICE, SECRET, nonce, data, size, &env) != E2EE_OK)
        return;
    if (e2ee_open(DEVICE, SECRET, env, strlen(env), &m) == E2EE_OK) {
        check_opened(m);
        if (e2ee_msg_len(m) > size || (e2ee_msg_len(m) == size && memcmp(e2ee_msg_text(m), data, size) != 0))
            abort();
    }
    e2ee_msg_free(m);
    free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct e2ee_msg *raw = NULL, *m = NULL;
    enum e2ee_err raw_err = e2ee_decrypt(DEVICE, SECRET, data, size, &raw);
    enum e2ee_err err = e2ee_open(DEVICE, SECRET, data, size, &m);

    /* open fails exactly where decrypt does, or later on the plaintext */
    if ((raw_err != E2EE_OK && err != raw_err) ||
        (raw_err == E2EE_OK && err != E2EE_OK && err != E2EE_ERR_PLAINTEXT))
        abort();
    if ((err == E2EE_OK) != (m != NULL) || (raw_err == E2EE_OK) != (raw != NULL))
        abort();
    if (m)
        check_opened(m);
    e2ee_msg_free(raw);
    e2ee_msg_free(m);
    check_as_plaintext(data, size);
    return 0;
}
