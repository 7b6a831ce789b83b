/* devsim_opts.c: getopt_long over devsim's options; numbers are whole, unsigned and range-checked,
 * the key is hex of a length the envelope takes, the server an http(s) base URL. */
#include "devsim_opts.h"

#include "fw_update.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char devsim_usage[] =
    "usage: devsim --server URL --devices N --id-prefix P --key HEX [options]\n"
    "Simulates N devices running the provd firmware core against a provd server, from one\n"
    "event loop: each registers, polls for its configuration and sends encrypted readings.\n"
    "\n"
    "  --server URL           http(s)://host[:port] of the provd site\n"
    "  --devices N            1-100000 devices, ids P0000, P0001, ... (more digits past 9999)\n"
    "  --id-prefix P          up to 48 of [A-Za-z0-9._:-]\n"
    "  --key HEX              every device's telemetry key: 32 hex digits (AES-128-GCM);\n"
    "                         with --v1 32, 48 or 64 (AES-CBC)\n"
    "  --v1                   send v1 key+IV envelopes instead of v2\n"
    "  --sign                 sign every call with the key and take only sealed configurations,\n"
    "                         as keyed devices must (README.md, Device trust)\n"
    "  --interval S           poll interval until the server sends its own (1-86400, default 60)\n"
    "  --telemetry-every S    one reading per device every S seconds (0-86400, 0: none, default 60)\n"
    "  --duration S           stop after S seconds (0-2592000, default 0: at SIGINT/SIGTERM)\n"
    "  --ramp S               spread the boots over S seconds (0-3600, default 1 ms per device)\n"
    "  --connections N        HTTP keep-alive connections at most (1-1024, default 64)\n"
    "  --state-dir DIR        keep each device's SEQN record in DIR/<id>.seqn (default: memory)\n"
    "  --firmware-version V   the firmware every device runs at start (1-32 of [A-Za-z0-9._+-]):\n"
    "                         devices report it and take the updates the server offers\n"
    "  --fail-update PERCENT  that share of the devices (0-100, by a hash of their ids) comes\n"
    "                         back with the old version after booting an update\n"
    "  --verbose              log every device's warnings, not only the first errors\n"
    "  --help                 this text\n"
    "\n"
    "Progress goes to stderr once a second, the summary to stdout. Exit status 1 when a device\n"
    "was not registered at the end or a reading was refused, 2 on a usage error.\n";

enum {
    OPT_SERVER = 256,
    OPT_DEVICES,
    OPT_PREFIX,
    OPT_KEY,
    OPT_V1,
    OPT_SIGN,
    OPT_INTERVAL,
    OPT_EVERY,
    OPT_DURATION,
    OPT_RAMP,
    OPT_CONNECTIONS,
    OPT_STATE_DIR,
    OPT_VERBOSE,
    OPT_FIRMWARE,
    OPT_FAIL_UPDATE,
    OPT_HELP
};

static const struct option options[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"devices", required_argument, NULL, OPT_DEVICES},
    {"id-prefix", required_argument, NULL, OPT_PREFIX},
    {"key", required_argument, NULL, OPT_KEY},
    {"v1", no_argument, NULL, OPT_V1},
    {"sign", no_argument, NULL, OPT_SIGN},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"telemetry-every", required_argument, NULL, OPT_EVERY},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"ramp", required_argument, NULL, OPT_RAMP},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"firmware-version", required_argument, NULL, OPT_FIRMWARE},
    {"fail-update", required_argument, NULL, OPT_FAIL_UPDATE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* A whole number in [min, max] written only with digits. */
static int parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
    unsigned long v;
    char *end;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* v2 (AES-128-GCM) takes 16 bytes; v1 (AES-CBC) 16, 24 or 32. */
static int parse_key(const char *hex, struct fw_envelope_key *key)
{
    size_t n = strlen(hex), i;

    if (n % 2 || n / 2 > sizeof key->key)
        return -1;
    for (i = 0; i < n / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        key->key[i] = (uint8_t)(hi << 4 | lo);
    }
    key->key_len = n / 2;
    return fw_envelope_key_valid(key) == 0 ? 0 : -1;
}

/* The base URL without trailing slashes. */
static int parse_server(const char *url, char *out, size_t cap)
{
    size_t n = strlen(url);

    while (n > 1 && url[n - 1] == '/')
        n--;
    if (n >= cap)
        return -1;
    memcpy(out, url, n);
    out[n] = '\0';
    return http_pool_base_ok(out) ? 0 : -1;
}

static int parse_prefix(const char *p)
{
    size_t n = strlen(p);

    return n >= 1 && n <= FLEET_PREFIX_MAX &&
                   strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n
               ? 0
               : -1;
}

#define FAIL(...)                                                                                            \
    do {                                                                                                     \
        snprintf(err, err_len, __VA_ARGS__);                                                                 \
        return -1;                                                                                           \
    } while (0)

/* The values after the loop: what is required, and what depends on other options. */
static int finish(struct devsim_opts *o, const char *key_hex, bool ramp_set, char *err, size_t err_len)
{
    if (o->help)
        return 0;
    if (!o->server[0] || !o->fleet.devices || !o->fleet.id_prefix || !key_hex)
        FAIL("--server, --devices, --id-prefix and --key are required");
    if (parse_key(key_hex, &o->fleet.key) != 0)
        FAIL("--key must be %s hex digits", o->fleet.key.version == FW_ENVELOPE_V1 ? "32, 48 or 64" : "32");
    if (o->fleet.fail_update_pct && !o->fleet.firmware_version)
        FAIL("--fail-update needs --firmware-version");
    if (!ramp_set)
        o->fleet.ramp_ms = o->fleet.devices;
    return 0;
}

int devsim_opts_parse(struct devsim_opts *o, int argc, char **argv, char *err, size_t err_len)
{
    const char *key_hex = NULL;
    bool ramp_set = false;
    unsigned v;
    int c;

    memset(o, 0, sizeof *o);
    o->fleet.server = o->server;
    o->fleet.interval_s = 60;
    o->fleet.telemetry_every_s = 60;
    o->fleet.connections = DEVSIM_DEFAULT_CONNECTIONS;
    o->fleet.key.version = FW_ENVELOPE_V2;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        const char *arg = optarg;

        switch (c) {
        case OPT_SERVER:
            if (parse_server(arg, o->server, sizeof o->server) != 0)
                FAIL("--server must be an http:// or https:// URL of at most %d characters",
                     HTTP_POOL_BASE_MAX);
            break;
        case OPT_DEVICES:
            if (parse_uint(arg, 1, FLEET_MAX_DEVICES, &o->fleet.devices) != 0)
                FAIL("--devices must be a whole number from 1 to %u", FLEET_MAX_DEVICES);
            break;
        case OPT_PREFIX:
            if (parse_prefix(arg) != 0)
                FAIL("--id-prefix must be 1-%d of [A-Za-z0-9._:-]", FLEET_PREFIX_MAX);
            o->fleet.id_prefix = arg;
            break;
        case OPT_KEY: key_hex = arg; break;
        case OPT_V1: o->fleet.key.version = FW_ENVELOPE_V1; break;
        case OPT_SIGN: o->fleet.sign = true; break;
        case OPT_INTERVAL:
            if (parse_uint(arg, 1, DEVSIM_MAX_INTERVAL_S, &o->fleet.interval_s) != 0)
                FAIL("--interval must be whole seconds from 1 to %u", DEVSIM_MAX_INTERVAL_S);
            break;
        case OPT_EVERY:
            if (parse_uint(arg, 0, DEVSIM_MAX_INTERVAL_S, &o->fleet.telemetry_every_s) != 0)
                FAIL("--telemetry-every must be whole seconds from 0 to %u", DEVSIM_MAX_INTERVAL_S);
            break;
        case OPT_DURATION:
            if (parse_uint(arg, 0, DEVSIM_MAX_DURATION_S, &v) != 0)
                FAIL("--duration must be whole seconds from 0 to %u", DEVSIM_MAX_DURATION_S);
            o->duration_ms = (uint64_t)v * 1000u;
            break;
        case OPT_RAMP:
            if (parse_uint(arg, 0, DEVSIM_MAX_RAMP_S, &v) != 0)
                FAIL("--ramp must be whole seconds from 0 to %u", DEVSIM_MAX_RAMP_S);
            o->fleet.ramp_ms = v * 1000u;
            ramp_set = true;
            break;
        case OPT_CONNECTIONS:
            if (parse_uint(arg, 1, HTTP_POOL_MAX_CONNECTIONS, &o->fleet.connections) != 0)
                FAIL("--connections must be a whole number from 1 to %d", HTTP_POOL_MAX_CONNECTIONS);
            break;
        case OPT_STATE_DIR:
            if (!arg[0] || strlen(arg) > DEVSIM_STATE_DIR_MAX)
                FAIL("--state-dir must be a path of 1-%d characters", DEVSIM_STATE_DIR_MAX);
            o->fleet.state_dir = arg;
            break;
        case OPT_VERBOSE: o->fleet.verbose = true; break;
        case OPT_FIRMWARE:
            if (!fw_version_valid(arg, strlen(arg)))
                FAIL("--firmware-version must be 1-%d of [A-Za-z0-9._+-]", FW_VERSION_MAX);
            o->fleet.firmware_version = arg;
            break;
        case OPT_FAIL_UPDATE:
            if (parse_uint(arg, 0, 100, &o->fleet.fail_update_pct) != 0)
                FAIL("--fail-update must be a whole percentage from 0 to 100");
            break;
        case OPT_HELP: o->help = true; break;
        default:
            FAIL("unknown option or missing value: %s",
                 optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        }
    }
    if (optind < argc)
        FAIL("unexpected argument: %s", argv[optind]);
    return finish(o, key_hex, ramp_set, err, err_len);
}
