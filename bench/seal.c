/* Writes pre-encrypted telemetry bodies for `make bench`, one "DEVICEID BODY" line each: devices
 * first..first+count-1 in turn, each with increasing SEQNs, so that every body is accepted once.
 * Or, for the signed rows, one "DEVICEID PROOF" line per device: the X-Provd-Auth of its heartbeat
 * (GET /api/devices/DEVICEID) made now, good for DEVICE_AUTH_WINDOW_S. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_auth.h"
#include "e2ee.h"
#include "store.h"
#include "validate.h"

#define LINES_MAX 10000000

static int usage(void)
{
    fprintf(stderr, "usage: seal v1|v2 KEY PREFIX FIRST DEVICES SEQN_BASE LINES > FILE\n"
                    "       seal proof KEY PREFIX FIRST DEVICES > FILE\n"
                    "Line k is for device FIRST + k %% DEVICES with SEQN SEQN_BASE + k / DEVICES + 1.\n");
    return 2;
}

/* The bulk id of device n (store.h); false when the prefix makes it too long. */
static bool bulk_id(const char *prefix, int64_t n, char id[E2EE_MAX_DEVICE_ID + 1])
{
    int w = snprintf(id, E2EE_MAX_DEVICE_ID + 1, "%s%0*llX", prefix, STORE_BULK_ID_DIGITS, (unsigned long long)n);
    if (w > 0 && w <= E2EE_MAX_DEVICE_ID)
        return true;
    fprintf(stderr, "seal: prefix \"%s\" makes ids too long\n", prefix);
    return false;
}

/* One heartbeat proof per device, signed now. */
static int proofs(const char *key, const char *prefix, int64_t first, int64_t devices)
{
    int64_t now = (int64_t)time(NULL);
    for (int64_t n = first; n < first + devices; n++) {
        char id[E2EE_MAX_DEVICE_ID + 1], path[96], header[DEVICE_AUTH_PROOF_MAX + 1];
        struct device_proof p;
        if (!bulk_id(prefix, n, id))
            return 1;
        snprintf(path, sizeof path, "/api/devices/%s", id);
        struct device_call call = {"GET", path, "", NULL, 0};
        if (!device_proof_sign(key, &call, now, &p)) {
            fprintf(stderr, "seal: cannot sign\n");
            return 1;
        }
        device_proof_format(&p, header);
        printf("%s %s\n", id, header);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int64_t first, devices, base, lines;
    if (argc == 6 && strcmp(argv[1], "proof") == 0 && parse_int_range(argv[4], 0, LINES_MAX, &first) &&
        parse_int_range(argv[5], 1, LINES_MAX, &devices))
        return proofs(argv[2], argv[3], first, devices);
    if (argc != 8 || (strcmp(argv[1], "v1") != 0 && strcmp(argv[1], "v2") != 0) ||
        !parse_int_range(argv[4], 0, LINES_MAX, &first) ||
        !parse_int_range(argv[5], 1, LINES_MAX, &devices) || !parse_int_range(argv[6], 0, INT32_MAX, &base) ||
        !parse_int_range(argv[7], 1, LINES_MAX, &lines))
        return usage();
    bool v2 = argv[1][1] == '2';
    const char *key = argv[2], *prefix = argv[3];
    for (int64_t k = 0; k < lines; k++) {
        char id[E2EE_MAX_DEVICE_ID + 1], plain[128];
        if (!bulk_id(prefix, first + k % devices, id))
            return 1;
        int len = snprintf(plain, sizeof plain, "{\"data\":{\"value\":%lld},\"SEQN\":%lld}",
                           (long long)(k % 1000), (long long)(base + k / devices + 1));
        char *body = NULL;
        enum e2ee_err err = v2 ? e2ee_seal_v2(id, key, NULL, plain, (size_t)len, &body)
                               : e2ee_seal_v1_key(key, NULL, plain, (size_t)len, &body);
        if (err != E2EE_OK) {
            fprintf(stderr, "seal: %s\n", e2ee_strerror(err));
            return 1;
        }
        printf("%s %s\n", id, body);
        free(body);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
