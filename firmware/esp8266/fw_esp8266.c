/* fw_esp8266.c: the platform functions on ESP8266_RTOS_SDK v3.4, the only file that includes SDK
 * headers besides main/app_main.c. Compiled by the vendor SDK build only, not by `make esp8266`.
 *
 * Firmware updates go to the OTA app partition that is not running, written with the partition
 * API (not esp_ota_begin(), which erases the whole partition each time: a download resumed after a
 * reboot keeps the sectors already written); esp_ota_set_boot_partition() checks the image and
 * selects it, esp_restart() boots it. The running version is the app description's (PROJECT_VER).
 *
 * HTTP is blocking: http_start() performs the exchange with esp_http_client and calls
 * fw_http_done() before it returns (the core supports both ways). A device hosts one context with
 * one request at a time and has nothing else to do meanwhile, so a second task, its stack (several
 * KiB of an ~80 KiB heap) and a queue handing requests and answers across would buy nothing; every
 * network stage is bounded by the client's timeout_ms, so the device loop is never stuck. */
#include "fw_esp8266.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "esp_err.h"
#include "esp_http_client.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "mbedtls/aes.h"
#include "mbedtls/gcm.h"
#include "mbedtls/sha256.h"
#include "nvs.h"

#if !defined(MBEDTLS_AES_C) || !defined(MBEDTLS_CIPHER_MODE_CBC) || !defined(MBEDTLS_GCM_C) || \
    !defined(MBEDTLS_SHA256_C)
#error "the envelopes and device trust need mbedTLS AES, CBC, GCM and SHA-256: enable them in menuconfig"
#endif

#define NVS_NAMESPACE  "provd"
#define NVS_KEY_SEQN   "seqn"
#define NVS_KEY_UPDATE "update"
/* The base URL plus the core's request path. */
#define URL_MAX (FW_ESP8266_BASE_MAX + FW_PATH_MAX)
/* Flash is erased by 4 KiB sectors; an image is read back and received in pieces of CHUNK bytes. */
#define FLASH_SECTOR 4096u
#define CHUNK        1024

static const char *TAG = "provd";

struct fw_esp8266 {
    struct fw_ctx *ctx;
    int64_t server_time; /* the X-Provd-Time of the answer being read; 0: none */
    int64_t range_start; /* its Content-Range start; -1: none */
    const esp_partition_t *ota; /* where an update is written: the OTA partition not running */
    uint8_t chunk[CHUNK];
    nvs_handle_t nvs;
    int timeout_ms;
    size_t base_len;
    char url[URL_MAX]; /* the base URL, followed by the path of the request being made */
};

struct fw_esp8266 *fw_esp8266_new(const char *base_url, int timeout_ms)
{
    size_t n = strlen(base_url), scheme;
    struct fw_esp8266 *p;
    esp_err_t err;

    while (n > 0 && base_url[n - 1] == '/')
        n--;
    scheme = strncmp(base_url, "https://", 8) == 0 ? 8 : strncmp(base_url, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0 || n <= scheme || n > FW_ESP8266_BASE_MAX) {
        ESP_LOGE(TAG, "server URL must be http(s)://... of at most %d characters", FW_ESP8266_BASE_MAX);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    memcpy(p->url, base_url, n);
    p->url[n] = '\0';
    p->base_len = n;
    p->timeout_ms = timeout_ms;
    err = nvs_open(NVS_NAMESPACE, NVS_READWRITE, &p->nvs);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_open: %s", esp_err_to_name(err));
        free(p);
        return NULL;
    }
    return p;
}

void fw_esp8266_free(struct fw_esp8266 *port)
{
    if (!port)
        return;
    nvs_close(port->nvs);
    free(port);
}

void fw_esp8266_attach(struct fw_esp8266 *port, struct fw_ctx *ctx)
{
    port->ctx = ctx;
}

uint64_t fw_esp8266_now_ms(void)
{
    return (uint64_t)esp_timer_get_time() / 1000u;
}

/* Reads the body into req->resp_body. A body that does not fit is reported one byte longer than
 * resp_cap (or at its Content-Length), which is all the core needs to refuse it. Returns 0, or -1
 * if the connection broke first. A chunked body has no length to check it against: the core
 * validates every body it parses as a whole JSON document, so a cut one is refused there. */
static int read_body(esp_http_client_handle_t c, const struct fw_http_request *req, int content_len,
                     size_t *body_len)
{
    size_t got = 0;
    char extra;

    while (got < req->resp_cap) {
        int n = esp_http_client_read(c, req->resp_body + got, (int)(req->resp_cap - got));

        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got == req->resp_cap && esp_http_client_read(c, &extra, 1) > 0) {
        *body_len = content_len > 0 && (size_t)content_len > got ? (size_t)content_len : got + 1;
        return 0;
    }
    if (content_len > 0 && got != (size_t)content_len)
        return -1;
    *body_len = got;
    return 0;
}

/* Streams an image body to the core piece by piece (it writes each to flash). Returns 0, or -1
 * when the connection broke, the body fell short of its Content-Length or the core stopped it. */
static int stream_body(struct fw_esp8266 *p, esp_http_client_handle_t c, int status, int content_len)
{
    int64_t got = 0;

    for (;;) {
        int n = esp_http_client_read(c, (char *)p->chunk, sizeof p->chunk);

        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += n;
        if (fw_http_body(p->ctx, status, p->range_start, p->chunk, (size_t)n) != 0)
            return -1;
    }
    return content_len > 0 && got != content_len ? -1 : 0;
}

/* A header's value as whole digits (at most 12) up to `end`: -1 when it is not that. */
static int64_t header_number(const char *v, char end)
{
    int64_t n = 0;
    int digits = 0;

    for (; *v >= '0' && *v <= '9' && digits < 12; v++, digits++)
        n = n * 10 + (*v - '0');
    return digits > 0 && *v == end ? n : -1;
}

/* The response headers the core reads: X-Provd-Time, the server's clock (whole seconds), and
 * where a 206's Content-Range ("bytes N-M/T") starts. */
static esp_err_t on_http_event(esp_http_client_event_t *evt)
{
    struct fw_esp8266 *p = evt->user_data;
    int64_t v;

    if (evt->event_id != HTTP_EVENT_ON_HEADER)
        return ESP_OK;
    if (strcasecmp(evt->header_key, "X-Provd-Time") == 0 && (v = header_number(evt->header_value, '\0')) >= 0)
        p->server_time = v;
    else if (strcasecmp(evt->header_key, "Content-Range") == 0 && strncmp(evt->header_value, "bytes ", 6) == 0)
        p->range_start = header_number(evt->header_value + 6, '-');
    return ESP_OK;
}

/* One exchange on a fresh client (the next poll is a minute away: an idle keep-alive connection
 * would mostly have been closed by the server by then). resp is left a network error on failure. */
static void exchange(struct fw_esp8266 *p, const struct fw_http_request *req, struct fw_http_response *resp)
{
    esp_http_client_config_t cfg;
    esp_http_client_handle_t c;
    int content_len;
    size_t i;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = p->url;
    cfg.method = strcmp(req->method, "POST") == 0 ? HTTP_METHOD_POST : HTTP_METHOD_GET;
    cfg.timeout_ms = p->timeout_ms;
    cfg.disable_auto_redirect = true;
    cfg.event_handler = on_http_event;
    cfg.user_data = p;
    p->server_time = 0;
    p->range_start = -1;
    c = esp_http_client_init(&cfg);
    if (!c) {
        ESP_LOGW(TAG, "esp_http_client_init failed");
        return;
    }
    for (i = 0; i < req->n_headers; i++)
        if (esp_http_client_set_header(c, req->headers[i].name, req->headers[i].value) != ESP_OK)
            goto out;
    /* open() sends the request line and headers with Content-Length: body_len. */
    if (esp_http_client_open(c, (int)req->body_len) != ESP_OK)
        goto out;
    if (req->body_len > 0 && esp_http_client_write(c, req->body, (int)req->body_len) != (int)req->body_len)
        goto out;
    content_len = esp_http_client_fetch_headers(c);
    if (content_len < 0)
        goto out;
    if (req->stream ? stream_body(p, c, esp_http_client_get_status_code(c), content_len) != 0
                    : read_body(c, req, content_len, &resp->body_len) != 0)
        goto out;
    resp->status = esp_http_client_get_status_code(c);
    resp->server_time = p->server_time;
out:
    if (resp->status == FW_HTTP_NETWORK_ERROR)
        ESP_LOGD(TAG, "%s %s: no answer", req->method, p->url);
    esp_http_client_cleanup(c);
}

static int http_start(void *user_data, const struct fw_http_request *req)
{
    struct fw_esp8266 *p = user_data;
    struct fw_http_response resp = {FW_HTTP_NETWORK_ERROR, 0, 0};
    size_t path_len = strlen(req->path);

    if (!p->ctx || p->base_len + path_len >= sizeof p->url || req->body_len > INT_MAX)
        return -1;
    memcpy(p->url + p->base_len, req->path, path_len + 1);
    exchange(p, req, &resp);
    return fw_http_done(p->ctx, &resp);
}

/* esp_random() reads the hardware RNG, which is only truly random while the RF is on: the
 * application starts WiFi before the core draws its first nonce. */
static int rng(void *user_data, uint8_t *buf, size_t len)
{
    (void)user_data;
    while (len > 0) {
        uint32_t word = esp_random();
        size_t n = len < sizeof word ? len : sizeof word;

        memcpy(buf, &word, n);
        buf += n;
        len -= n;
    }
    return 0;
}

static int aes_cbc(void *user_data, const uint8_t *key, size_t key_len, const uint8_t iv[16],
                   const uint8_t *in, size_t len, uint8_t *out)
{
    mbedtls_aes_context aes;
    unsigned char chain[16]; /* mbedtls_aes_crypt_cbc() advances the IV in place */
    int rc;

    (void)user_data;
    if (len % 16 != 0 || (key_len != 16 && key_len != 24 && key_len != 32))
        return -1;
    memcpy(chain, iv, sizeof chain);
    mbedtls_aes_init(&aes);
    rc = mbedtls_aes_setkey_enc(&aes, key, (unsigned int)key_len * 8u);
    if (rc == 0)
        rc = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, len, chain, in, out);
    mbedtls_aes_free(&aes);
    return rc == 0 ? 0 : -1;
}

/* AES-128-GCM either way: encrypting writes the tag, decrypting checks it (tag is then read only). */
static int gcm_run(int encrypt, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    mbedtls_gcm_context gcm;
    int rc;

    mbedtls_gcm_init(&gcm);
    rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 128);
    if (rc == 0 && encrypt)
        rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, len, nonce, 12, aad, aad_len, in, out, 16,
                                       tag);
    else if (rc == 0)
        rc = mbedtls_gcm_auth_decrypt(&gcm, len, nonce, 12, aad, aad_len, tag, 16, in, out);
    mbedtls_gcm_free(&gcm);
    return rc == 0 ? 0 : -1;
}

static int aes_gcm(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                   size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    (void)user_data;
    return gcm_run(1, key, nonce, aad, aad_len, in, len, out, tag);
}

static int aes_gcm_decrypt(void *user_data, const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                           size_t aad_len, const uint8_t *in, size_t len, const uint8_t tag[16], uint8_t *out)
{
    (void)user_data;
    return gcm_run(0, key, nonce, aad, aad_len, in, len, out, (uint8_t *)tag);
}

static int sha256(void *user_data, const struct fw_bytes *parts, size_t n, uint8_t out[32])
{
    mbedtls_sha256_context sha;
    size_t i;
    int rc;

    (void)user_data;
    mbedtls_sha256_init(&sha);
    rc = mbedtls_sha256_starts_ret(&sha, 0);
    for (i = 0; rc == 0 && i < n; i++)
        rc = mbedtls_sha256_update_ret(&sha, parts[i].data, parts[i].len);
    if (rc == 0)
        rc = mbedtls_sha256_finish_ret(&sha, out);
    mbedtls_sha256_free(&sha);
    return rc == 0 ? 0 : -1;
}

/* The core's two records are NVS blobs: NVS spreads its writes over the partition's sectors; the
 * SEQN record is written once per 64 readings, the update's once per 64 KiB downloaded. */
static int blob_read(struct fw_esp8266 *p, const char *key, uint8_t *buf, size_t cap)
{
    size_t len = cap;
    esp_err_t err = nvs_get_blob(p->nvs, key, buf, &len);

    if (err == ESP_ERR_NVS_NOT_FOUND)
        return -1;
    if (err != ESP_OK || len > INT_MAX) {
        ESP_LOGE(TAG, "cannot read the %s record: %s", key, esp_err_to_name(err));
        return -1;
    }
    return (int)len;
}

static int blob_write(struct fw_esp8266 *p, const char *key, const uint8_t *buf, size_t len)
{
    esp_err_t err = nvs_set_blob(p->nvs, key, buf, len);

    if (err == ESP_OK)
        err = nvs_commit(p->nvs);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "cannot store the %s record: %s", key, esp_err_to_name(err));
        return -1;
    }
    return 0;
}

static int store_read(void *user_data, uint8_t *buf, size_t cap)
{
    return blob_read(user_data, NVS_KEY_SEQN, buf, cap);
}

static int store_write(void *user_data, const uint8_t *buf, size_t len)
{
    return blob_write(user_data, NVS_KEY_SEQN, buf, len);
}

static int update_read(void *user_data, uint8_t *buf, size_t cap)
{
    return blob_read(user_data, NVS_KEY_UPDATE, buf, cap);
}

static int update_write(void *user_data, const uint8_t *buf, size_t len)
{
    return blob_write(user_data, NVS_KEY_UPDATE, buf, len);
}

/* The version in the running app's description (PROJECT_VER of its build). */
static int running_version(void *user_data, char *buf, size_t cap)
{
    const esp_app_desc_t *app = esp_ota_get_app_description();
    size_t n = strnlen(app->version, sizeof app->version);

    (void)user_data;
    if (n >= cap)
        return -1;
    memcpy(buf, app->version, n);
    buf[n] = '\0';
    return (int)n;
}

/* The partition not running receives the image. What is stored from the offset's sector on is
 * erased (the sectors before it hold the bytes already downloaded, possibly before a reboot); a
 * complete image is kept as it is, for image_finish() to check again. */
static int image_begin(void *user_data, const struct fw_image *img, uint32_t *offset)
{
    struct fw_esp8266 *p = user_data;
    uint32_t from = *offset - *offset % FLASH_SECTOR;
    uint32_t end = (img->size + FLASH_SECTOR - 1) / FLASH_SECTOR * FLASH_SECTOR;
    esp_err_t err;

    p->ota = esp_ota_get_next_update_partition(NULL);
    if (!p->ota || img->size > p->ota->size) {
        ESP_LOGE(TAG, "no OTA partition for an image of %u bytes", (unsigned)img->size);
        return -1;
    }
    if (*offset == img->size)
        return 0;
    err = esp_partition_erase_range(p->ota, from, end - from);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "cannot erase the OTA partition: %s", esp_err_to_name(err));
        return -1;
    }
    *offset = from;
    return 0;
}

static int image_write(void *user_data, uint32_t offset, const uint8_t *data, size_t len)
{
    struct fw_esp8266 *p = user_data;

    return p->ota && esp_partition_write(p->ota, offset, data, len) == ESP_OK ? 0 : -1;
}

/* The SHA-256 of what the flash holds, read back: what will boot is what was checked. */
static int image_finish(void *user_data, const struct fw_image *img)
{
    struct fw_esp8266 *p = user_data;
    mbedtls_sha256_context sha;
    uint8_t sum[32];
    uint32_t at;
    int rc;

    if (!p->ota)
        return -1;
    mbedtls_sha256_init(&sha);
    rc = mbedtls_sha256_starts_ret(&sha, 0);
    for (at = 0; rc == 0 && at < img->size; at += CHUNK) {
        size_t n = img->size - at < CHUNK ? img->size - at : CHUNK;

        rc = esp_partition_read(p->ota, at, p->chunk, n) == ESP_OK ? mbedtls_sha256_update_ret(&sha, p->chunk, n) : -1;
    }
    if (rc == 0)
        rc = mbedtls_sha256_finish_ret(&sha, sum);
    mbedtls_sha256_free(&sha);
    return rc == 0 && memcmp(sum, img->sha256, sizeof sum) == 0 ? 0 : -1;
}

/* Selects the partition (the SDK checks the image first) and restarts into it: no return. */
static int image_boot(void *user_data, const struct fw_image *img)
{
    struct fw_esp8266 *p = user_data;
    esp_err_t err = p->ota ? esp_ota_set_boot_partition(p->ota) : ESP_ERR_INVALID_STATE;

    if (err != ESP_OK) {
        ESP_LOGE(TAG, "cannot boot firmware %s: %s", img->version, esp_err_to_name(err));
        return -1;
    }
    ESP_LOGI(TAG, "restarting into firmware %s", img->version);
    esp_restart();
    return -1; /* not reached */
}

static void log_line(void *user_data, enum fw_log_level level, const char *msg)
{
    (void)user_data;
    switch (level) {
    case FW_LOG_ERROR: ESP_LOGE(TAG, "%s", msg); break;
    case FW_LOG_WARN: ESP_LOGW(TAG, "%s", msg); break;
    case FW_LOG_INFO: ESP_LOGI(TAG, "%s", msg); break;
    case FW_LOG_DEBUG: ESP_LOGD(TAG, "%s", msg); break;
    }
}

static const struct fw_update_ops update_ops = {
    running_version, image_begin, image_write, image_finish, image_boot, update_read, update_write,
};

struct fw_platform fw_esp8266_platform(struct fw_esp8266 *port)
{
    struct fw_platform p = {port, http_start, rng, aes_cbc, aes_gcm, store_read, store_write, log_line, sha256,
                            aes_gcm_decrypt, &update_ops};

    return p;
}
