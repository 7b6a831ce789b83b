/* libFuzzer target for device trust's parsers (lib/device_auth.c): each input is tried as an
 * X-Provd-Auth value -- what parses must format back to the same bytes and check without harm --
 * and as a sealed configuration, which must not open unless it is authentic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device_auth.h"

#define SECRET "000102030405060708090a0b0c0d0e0f"
#define DEVICE "5C:CF:7F:12:34:56"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parsed proof is the one canonical spelling of its fields; checking it never passes for a
 * MAC that is not the call's. */
static void check_as_proof(const char *text, size_t size)
{
    static const struct device_call call = {"POST", "/api/devices/" DEVICE, "", "{}", 2};
    struct device_proof p, made;
    char again[DEVICE_AUTH_PROOF_MAX + 1];
    if (!device_proof_parse(text, size, &p))
        return;
    device_proof_format(&p, again);
    if (strlen(again) != size || memcmp(again, text, size) != 0)
        abort();
    enum device_proof_verdict v = device_proof_check(SECRET, &call, &p, p.t);
    if (!device_proof_sign(SECRET, &call, p.t, &made))
        abort();
    if ((v == DEVICE_PROOF_OK) != (memcmp(made.mac, p.mac, sizeof p.mac) == 0))
        abort();
}

/* What opens as a sealed configuration seals again and opens to the same bytes. */
static void check_as_sealed(const char *text, size_t size)
{
    char *plain = NULL, *sealed = NULL, *back = NULL;
    size_t len = 0, back_len = 0;
    if (!device_config_open(SECRET, DEVICE, 7, text, size, &plain, &len))
        return;
    if (!device_config_seal(SECRET, DEVICE, 7, NULL, plain, len, &sealed) ||
        !device_config_open(SECRET, DEVICE, 7, sealed, strlen(sealed), &back, &back_len) || back_len != len ||
        memcmp(back, plain, len) != 0)
        abort();
    free(plain);
    free(sealed);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_as_proof((const char *)data, size);
    check_as_sealed((const char *)data, size);
    return 0;
}
