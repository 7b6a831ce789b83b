/* fw_script.h: a scripted platform for the firmware core's unit tests: HTTP transcripts (expected
 * request -> canned answer), a seeded RNG, OpenSSL AES, in-memory storage and a test clock. */
#ifndef FW_SCRIPT_H
#define FW_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_auth.h"
#include "fw_client.h"

#define SCRIPT_MAX_STEPS 256
#define SCRIPT_MAX_CALLS 8
#define SCRIPT_DEVICE_ID "a4:cf:12:00:00:01"
#define SCRIPT_DEV_PATH  "/api/devices/" SCRIPT_DEVICE_ID

/* Transcript lines for the usual exchanges. */
#define SCRIPT_REGISTER(status)                                                                              \
    {                                                                                                        \
        "POST", SCRIPT_DEV_PATH, NULL, "{\"ipaddr\":\"10.0.0.7\",\"ssid\":\"lab\"}", status, NULL, NULL, NULL \
    }
#define SCRIPT_POLL(applied, status, resp)                                                                   \
    {                                                                                                        \
        "GET", SCRIPT_DEV_PATH "?cfgsn=" #applied, "\"" #applied "\"", NULL, status, resp, NULL, NULL    \
    }
#define SCRIPT_TELEMETRY(status)                                                                             \
    {                                                                                                        \
        "POST", SCRIPT_DEV_PATH "/telemetry", NULL, NULL, status, NULL, NULL, NULL                           \
    }

/* script_step.status: http_start() itself fails (no socket, no memory) and answers nothing. */
#define SCRIPT_START_FAILS (-2)

/* A streamed answer (a firmware image): bytes [from, to) of script.served, handed to
 * fw_http_body() with status and range_start, in pieces of SCRIPT_PIECE bytes. */
struct script_stream {
    int status;
    int64_t range_start;
    uint32_t from, to;
};
#define SCRIPT_PIECE 4096

/* One exchange. NULL expectations are not checked, except if_none_match and range: NULL means
 * absent. */
struct script_step {
    const char *method;
    const char *path;
    const char *if_none_match;
    const char *body;
    int status;            /* the answer, FW_HTTP_NETWORK_ERROR or SCRIPT_START_FAILS */
    const char *resp_body; /* NULL: empty */
    const char *range;     /* the Range header expected */
    const struct script_stream *stream; /* the body streamed before the answer (stream requests) */
};

struct script {
    const struct script_step *steps;
    size_t n_steps;
    size_t next; /* requests served so far */
    bool sync;   /* answer from inside http_start() */
    uint64_t now;
    uint64_t started_at[SCRIPT_MAX_STEPS];  /* the clock when each request started */
    char sent[SCRIPT_MAX_STEPS][FW_TX_MAX]; /* each request's body */
    char proof[SCRIPT_MAX_STEPS][FW_AUTH_PROOF_MAX + 1]; /* each request's X-Provd-Auth, "" if none */
    bool sign;           /* script_device() makes a device that signs */
    int64_t server_time; /* every answer's X-Provd-Time; 0: none */
    struct fw_ctx *ctx;
    bool answer_pending;
    struct fw_http_response answer;

    uint32_t rng; /* xorshift state, never 0 */
    uint8_t record[64];
    int record_len; /* -1: nothing stored */
    unsigned writes;
    bool store_fails;
    bool crypto_fails;

    /* Firmware updates (script_device() gives the platform the image functions when set). */
    bool updates;
    char running[FW_VERSION_MAX + 1]; /* what running_version() answers */
    uint8_t *served;       /* the image the "server" streams, served_len bytes */
    size_t served_len;
    uint8_t *flash;        /* what image_write() stored, flash_len bytes kept (survive reboots) */
    size_t flash_cap, flash_len;
    uint32_t sector;       /* image_begin() resumes at a multiple of this (0: any offset) */
    unsigned begins, boots, finishes;
    uint8_t update_record[64];
    int update_record_len; /* -1: none */

    int apply_rc[SCRIPT_MAX_CALLS]; /* what apply_config returns, call by call */
    unsigned apply_calls;
    uint32_t applied_cfgsn[SCRIPT_MAX_CALLS];
    char applied_data[SCRIPT_MAX_CALLS][128];
    unsigned events[FW_EV_RETRY + 1];
};

/* Empty storage, a seeded RNG, no steps (and no image buffers: script_free_image()). */
void script_init(struct script *s, uint32_t seed);
void script_set_steps(struct script *s, const struct script_step *steps, size_t n);
struct fw_platform script_platform(struct script *s);
struct fw_app script_app(struct script *s);
/* fw_new() with this script's platform and app; the test device's id, ipaddr "10.0.0.7" and
 * ssid "lab"; key: bytes 0..key_len-1. */
struct fw_ctx *script_device(struct script *s, enum fw_envelope_version version, size_t key_len);
/* script_set_steps() and a v2 device with a 16-byte key. */
void script_start(struct script *s, const struct script_step *steps, size_t n);
/* script_start() and script_run(). */
void script_play(struct script *s, const struct script_step *steps, size_t n);
/* Drives fw_step(), answering and advancing the clock, until every step has been served and
 * its answer handled. */
void script_run(struct script *s);
/* cmocka fixtures: each test gets a fresh script in *state; its device is freed afterwards,
 * even when an assertion failed. */
int fw_test_setup(void **state);
int fw_test_teardown(void **state);
#define FW_TEST(f) cmocka_unit_test_setup_teardown(f, fw_test_setup, fw_test_teardown)
/* The test key, for decrypting what the device sent. */
void script_key(uint8_t *key, size_t key_len);
/* What the server does for a signing device, with OpenSSL's HMAC and AES-GCM (lib/device_auth.c):
 * HMAC-SHA256(device key, label), the key it derives; the X-Provd-Auth proof it expects for a
 * call at t; {"cfgsn":<outer>,"sealed":{...}}, plain sealed for cfgsn, into out. */
void script_derived(const char *label, uint8_t out[32]);
void script_expected_proof(const char *method, const char *target, const char *body, long long t, char *out,
                           size_t cap);
void script_sealed_answer(uint32_t outer, uint32_t cfgsn, const char *plain, char *out, size_t cap);
/* An update-capable device running `running`; the server's image: n deterministic bytes. */
void script_enable_updates(struct script *s, const char *running, size_t n);
/* A reboot: the context freed and created again (storage, flash and record kept). */
void script_reboot(struct script *s);

#endif
