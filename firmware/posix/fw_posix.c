/* fw_posix.c: the platform functions of one simulated device. http_start() only queues the
 * request: the host's event loop answers it later with fw_http_done(). */
#include "fw_posix.h"

#include <stdio.h>

#include "fw_openssl.h"

int fw_posix_device_init(struct fw_posix_device *d, struct fw_posix_host *host, const char *id, void *owner)
{
    d->host = host;
    d->id = id;
    d->owner = owner;
    return record_load(&d->record, host->state_dir, id);
}

static int http_start(void *user_data, const struct fw_http_request *req)
{
    struct fw_posix_device *d = user_data;

    if (d->host->offline)
        return -1;
    return http_pool_submit(d->host->pool, req, d->owner);
}

static int rng(void *user_data, uint8_t *buf, size_t len)
{
    (void)user_data;
    return fw_openssl_random(buf, len);
}

static int aes_cbc(void *user_data, const uint8_t *key, size_t key_len, const uint8_t iv[16],
                   const uint8_t *in, size_t len, uint8_t *out)
{
    (void)user_data;
    return fw_openssl_aes_cbc(key, key_len, iv, in, len, out);
}

static int aes_gcm(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    (void)user_data;
    return fw_openssl_aes_gcm(key, nonce, aad, aad_len, in, len, out, tag);
}

/* Every line goes through here: ERROR lines are capped unless verbose, the rest need verbose. */
static void log_line(void *user_data, enum fw_log_level level, const char *msg)
{
    struct fw_posix_device *d = user_data;
    struct fw_posix_host *h = d->host;
    static const char *const names[] = {"error", "warn", "info", "debug"};

    if (level == FW_LOG_DEBUG || (level != FW_LOG_ERROR && !h->verbose))
        return;
    if (level == FW_LOG_ERROR && !h->verbose && h->error_lines++ >= FW_POSIX_ERROR_LINES) {
        if (h->error_lines == FW_POSIX_ERROR_LINES + 1)
            fprintf(stderr, "%sdevsim: more errors: only counted from now on (--verbose shows all)\n",
                    h->tty ? "\r\033[K" : "");
        return;
    }
    fprintf(stderr, "%s%s: %s: %s\n", h->tty ? "\r\033[K" : "", d->id, names[level], msg);
}

static int store_read(void *user_data, uint8_t *buf, size_t cap)
{
    struct fw_posix_device *d = user_data;

    return record_read(&d->record, buf, cap);
}

static int store_write(void *user_data, const uint8_t *buf, size_t len)
{
    struct fw_posix_device *d = user_data;
    char msg[160];

    if (record_write(&d->record, d->host->state_dir, d->id, buf, len) == 0)
        return 0;
    snprintf(msg, sizeof msg, "cannot store the SEQN record: %m");
    log_line(d, FW_LOG_ERROR, msg);
    return -1;
}

struct fw_platform fw_posix_platform(struct fw_posix_device *d)
{
    struct fw_platform p = {
        .user_data = d,
        .http_start = http_start,
        .random = rng,
        .aes_cbc_encrypt = aes_cbc,
        .aes_gcm_encrypt = aes_gcm,
        .store_read = store_read,
        .store_write = store_write,
        .log = log_line,
        .sha256 = fw_openssl_sha256,
        .aes_gcm_decrypt = fw_openssl_aes_gcm_decrypt,
    };

    return p;
}
