/* fw_platform.h: what the portable firmware core needs from the device it runs on.
 * A port fills one struct fw_platform (function pointers + user_data); the core calls nothing else. */
#ifndef FW_PLATFORM_H
#define FW_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* fw_http_response.status for "no HTTP answer at all" (DNS, connect, timeout, reset). */
#define FW_HTTP_NETWORK_ERROR (-1)

struct fw_http_header {
    const char *name;
    const char *value;
};

/* One request. Every pointer stays valid until the host calls fw_http_done() for it. */
struct fw_http_request {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* absolute path with query, e.g. "/api/devices/ab12" */
    const struct fw_http_header *headers;
    size_t n_headers;
    const char *body; /* NULL for none */
    size_t body_len;
    char *resp_body; /* the host writes the response body here ... */
    size_t resp_cap; /* ... at most this many bytes */
    /* 1: a firmware image: the host hands the body to fw_http_body() as it arrives (with the
     * status and the Content-Range start) instead of writing it to resp_body. */
    int stream;
};

struct fw_http_response {
    int status;      /* HTTP status code, or FW_HTTP_NETWORK_ERROR */
    size_t body_len; /* full length of the body; more than resp_cap means it did not fit */
    int64_t server_time; /* the answer's X-Provd-Time (Unix seconds); 0: it had none */
};

/* A span of bytes: one part of what a hash covers. */
struct fw_bytes {
    const uint8_t *data;
    size_t len;
};

/* Longest firmware version: 1-32 of [A-Za-z0-9._+-]. */
#define FW_VERSION_MAX 32

/* A firmware image the server offers (fw_update.h). */
struct fw_image {
    char version[FW_VERSION_MAX + 1];
    uint32_t size;      /* bytes */
    uint8_t sha256[32]; /* of the whole image */
};

/* What a port that takes firmware updates provides (struct fw_platform.update). Every function is
 * required and gets the platform's user_data; those returning int return 0 or -1 as below. */
struct fw_update_ops {
    /* The version the running image is (1-32 of [A-Za-z0-9._+-]) into buf; returns its length or -1. */
    int (*running_version)(void *user_data, char *buf, size_t cap);
    /* Prepares to store img from *offset on: the bytes before it were stored by an earlier
     * attempt (possibly before a reboot). Sets *offset to where it continues, lower when it cannot
     * keep them all (a flash sector boundary; 0: from the start). */
    int (*image_begin)(void *user_data, const struct fw_image *img, uint32_t *offset);
    /* Stores len bytes at offset (always the end of what is stored). Once it returns 0 the bytes
     * survive a power cut. */
    int (*image_write)(void *user_data, uint32_t offset, const uint8_t *data, size_t len);
    /* All img->size bytes are stored: computes the SHA-256 of what is stored and returns 0 only
     * when it equals img->sha256 (then, and only then, may the image be booted). */
    int (*image_finish)(void *user_data, const struct fw_image *img);
    /* Makes the verified image the one to boot and restarts into it: on a device it does not
     * return unless it failed (-1). A simulator returns 0 and the core stops (FW_STATE_REBOOTING);
     * the host then starts a new context, as a boot would. */
    int (*image_boot)(void *user_data, const struct fw_image *img);
    /* A second small persistent record, like store_read/store_write: the update's progress. */
    int (*record_read)(void *user_data, uint8_t *buf, size_t cap);
    int (*record_write)(void *user_data, const uint8_t *buf, size_t len);
};

enum fw_log_level { FW_LOG_ERROR, FW_LOG_WARN, FW_LOG_INFO, FW_LOG_DEBUG };

/* Functions returning int return 0 on success and -1 on failure. */
struct fw_platform {
    void *user_data;
    /* Starts a request and returns; the host later (or before returning) hands the answer to
     * fw_http_done(). -1 means it could not even start: the core treats it as a network error. */
    int (*http_start)(void *user_data, const struct fw_http_request *req);
    int (*random)(void *user_data, uint8_t *buf, size_t len);
    /* AES-CBC without padding (the core pads): len is a multiple of 16; key_len 16, 24 or 32. */
    int (*aes_cbc_encrypt)(void *user_data, const uint8_t *key, size_t key_len, const uint8_t iv[16],
                           const uint8_t *in, size_t len, uint8_t *out);
    /* AES-128-GCM with a 16-byte tag. */
    int (*aes_gcm_encrypt)(void *user_data, const uint8_t key[16], const uint8_t nonce[12],
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                           uint8_t tag[16]);
    /* A small persistent record (a few bytes, e.g. one flash sector slot or an RTC/NVS entry).
     * store_read returns the record's length, or -1 when there is none. */
    int (*store_read)(void *user_data, uint8_t *buf, size_t cap);
    int (*store_write)(void *user_data, const uint8_t *buf, size_t len);
    void (*log)(void *user_data, enum fw_log_level level, const char *msg); /* may be NULL */
    /* Device trust (fw_auth.h); both NULL for a device that does not sign its calls. */
    /* SHA-256 of the n parts one after the other. */
    int (*sha256)(void *user_data, const struct fw_bytes *parts, size_t n, uint8_t out[32]);
    /* AES-128-GCM decryption that checks the 16-byte tag; out may be in (in place). */
    int (*aes_gcm_decrypt)(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                           size_t aad_len, const uint8_t *in, size_t len, const uint8_t tag[16], uint8_t *out);
    /* Firmware updates (fw_update.h); NULL for a device that takes none. */
    const struct fw_update_ops *update;
};

#endif
