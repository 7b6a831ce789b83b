/* fw_posix.c: the platform functions of one simulated device. http_start() only queues the
 * request: the host's event loop answers it later with fw_http_done(). */
#include "fw_posix.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fw_openssl.h"

int fw_posix_device_init(struct fw_posix_device *d, struct fw_posix_host *host, const char *id, void *owner,
                         const char *running)
{
    d->host = host;
    d->id = id;
    d->owner = owner;
    d->fw.record_len = -1;
    if (running)
        snprintf(d->fw.running, sizeof d->fw.running, "%s", running);
    return record_load(&d->record, host->state_dir, id);
}

void fw_posix_device_free(struct fw_posix_device *d)
{
    fw_openssl_sha256_free(d->fw.sha);
    d->fw.sha = NULL;
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

static int running_version(void *user_data, char *buf, size_t cap)
{
    struct fw_posix_device *d = user_data;

    return snprintf(buf, cap, "%s", d->fw.running);
}

/* Whether the last complete image is img (a device's flash would still hold it). */
static bool stored(const struct fw_posix_device *d, const struct fw_image *img)
{
    return d->fw.stored_size == img->size && memcmp(d->fw.stored_sha, img->sha256, sizeof d->fw.stored_sha) == 0;
}

/* The hash goes on where it stopped when the core resumes there, and a complete image that was
 * verified stays; anything else starts over (a simulated device keeps nothing else of it). */
static int image_begin(void *user_data, const struct fw_image *img, uint32_t *offset)
{
    struct fw_posix_device *d = user_data;

    if ((d->fw.sha && d->fw.hashed == *offset) || (*offset == img->size && stored(d, img)))
        return 0;
    fw_openssl_sha256_free(d->fw.sha);
    d->fw.sha = fw_openssl_sha256_begin();
    d->fw.hashed = 0;
    *offset = 0;
    return d->fw.sha ? 0 : -1;
}

static int image_write(void *user_data, uint32_t offset, const uint8_t *data, size_t len)
{
    struct fw_posix_device *d = user_data;

    if (!d->fw.sha || offset != d->fw.hashed || fw_openssl_sha256_update(d->fw.sha, data, len) != 0)
        return -1;
    d->fw.hashed += (uint32_t)len;
    return 0;
}

static int image_finish(void *user_data, const struct fw_image *img)
{
    struct fw_posix_device *d = user_data;
    uint8_t sum[32];
    int rc;

    if (!d->fw.sha)
        return stored(d, img) ? 0 : -1;
    if (d->fw.hashed != img->size)
        return -1;
    rc = fw_openssl_sha256_end(d->fw.sha, sum);
    d->fw.sha = NULL;
    d->fw.hashed = 0;
    memcpy(d->fw.stored_sha, sum, sizeof sum);
    d->fw.stored_size = rc == 0 ? img->size : 0;
    return rc == 0 && memcmp(sum, img->sha256, sizeof sum) == 0 ? 0 : -1;
}

/* The "installed" image is remembered by version; the host reboots the device (fleet.c). */
static int image_boot(void *user_data, const struct fw_image *img)
{
    struct fw_posix_device *d = user_data;

    memcpy(d->fw.booting, img->version, sizeof d->fw.booting);
    return 0;
}

static int update_read(void *user_data, uint8_t *buf, size_t cap)
{
    struct fw_posix_device *d = user_data;

    if (d->fw.record_len < 0 || (size_t)d->fw.record_len > cap)
        return -1;
    memcpy(buf, d->fw.record, (size_t)d->fw.record_len);
    return d->fw.record_len;
}

static int update_write(void *user_data, const uint8_t *buf, size_t len)
{
    struct fw_posix_device *d = user_data;

    if (len > sizeof d->fw.record)
        return -1;
    memcpy(d->fw.record, buf, len);
    d->fw.record_len = (int)len;
    return 0;
}

static const struct fw_update_ops update_ops = {
    running_version, image_begin, image_write, image_finish, image_boot, update_read, update_write,
};

struct fw_platform fw_posix_platform(struct fw_posix_device *d)
{
    struct fw_platform p = {d, http_start, rng, aes_cbc, aes_gcm, store_read, store_write, log_line, fw_openssl_sha256,
                            fw_openssl_aes_gcm_decrypt, d->fw.running[0] ? &update_ops : NULL};

    return p;
}
