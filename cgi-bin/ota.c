/* GET /api/ota: the ESP8266 and ESP32 Arduino update clients (ESPhttpUpdate, httpUpdate), unchanged.
 * They name the device by its MAC address in x-ESP8266-* / x-ESP32-* headers and say what it runs;
 * the answer is 304 (nothing to do) or 200 with the image, which nginx sends (firmware.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "device_trust.h"
#include "firmware.h"
#include "validate.h"

/* What a client is, by its User-Agent, and the FastCGI names of its x- headers. */
struct ota_client {
    const char *user_agent;
    const char *prefix; /* "HTTP_X_ESP8266_" */
};

static const struct ota_client clients[] = {
    {"ESP8266-http-Update", "HTTP_X_ESP8266_"},
    {"ESP32-http-Update", "HTTP_X_ESP32_"},
};

/* The headers every version of both clients sends (x-...-sketch-md5, -Chip-ID and -version came
 * later or are optional). */
static const char *const required[] = {"STA_MAC", "AP_MAC", "FREE_SPACE", "SKETCH_SIZE",
                                       "CHIP_SIZE", "SDK_VERSION", "MODE"};

static const char *client_header(const struct request *req, const struct ota_client *c, const char *name)
{
    char param[64];
    snprintf(param, sizeof param, "%s%s", c->prefix, name);
    return request_param(req, param);
}

/* "5C:CF:7F:00:00:01" (any case, colons optional) as 12 upper-case hex digits. */
static bool mac12(const char *mac, char out[13])
{
    size_t n = 0;
    for (const char *p = mac; *p; p++) {
        if (*p == ':' && n % 2 == 0 && n > 0)
            continue;
        if (!isxdigit((unsigned char)*p) || n == 12)
            return false;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 12;
}

/* What the device runs: the assigned version when its sketch's MD5 is the assigned image's, else
 * the version it sends; NULL when it says nothing usable. The ESP32 core sends no sketch MD5 (the
 * SHA-256 of its running partition instead, not compared: a digest of the flashed partition, not
 * necessarily of the uploaded file), so an ESP32 is known by its x-ESP32-version alone. */
static const char *running_version(const struct request *req, const struct ota_client *c,
                                   const struct ota_facts *device)
{
    const char *md5 = client_header(req, c, "SKETCH_MD5");
    const struct assigned_image *image = &device->assigned;
    if (md5 && image->version[0] && strcasecmp(md5, image->md5) == 0)
        return image->version;
    const char *version = client_header(req, c, "VERSION");
    return version && valid_firmware_version(version, strlen(version)) ? version : NULL;
}

/* Records what the device runs (when that can change its row: device->status then follows), then
 * answers: the image while an update is in progress for its sketch, else 304. */
static void answer(struct app *app, const struct request *req, const struct ota_client *c,
                   struct ota_facts *device, struct response *res)
{
    enum store_status st = STORE_OK;
    const char *running = running_version(req, c, device);
    if (running && firmware_report_changes(running, device->running, device->status)) {
        st = store_device_firmware(app->store, device->deviceid, FIRMWARE_REPORTED, running, device->status);
        st = st == STORE_NOT_FOUND ? STORE_OK : st; /* nothing new */
    }
    bool sketch = strcmp(client_header(req, c, "MODE"), "sketch") == 0;
    if (st == STORE_OK && sketch && firmware_in_progress(device->status)) {
        st = store_device_firmware(app->store, device->deviceid, FIRMWARE_FETCHED_ALL, device->assigned.version,
                                   NULL);
        if (st == STORE_OK || st == STORE_NOT_FOUND) { /* not found: a repeated download */
            firmware_send(app, res, &device->assigned);
            return;
        }
    }
    if (st == STORE_OK)
        response_empty(res, 304);
    else
        respond_store_error(app, res, st);
}

void handle_ota(struct app *app, const struct request *req, struct response *res)
{
    const char *agent = request_param(req, "HTTP_USER_AGENT");
    const struct ota_client *c = NULL;
    for (size_t i = 0; agent && i < sizeof clients / sizeof clients[0]; i++)
        if (strcmp(agent, clients[i].user_agent) == 0)
            c = &clients[i];
    if (!c) {
        response_error(res, 403, "only the ESP8266 and ESP32 Arduino update clients use /api/ota");
        return;
    }
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!client_header(req, c, required[i])) {
            response_error(res, 403, "the update client's x-*-%s header is missing", required[i]);
            return;
        }
    }
    char mac[13];
    if (!mac12(client_header(req, c, "STA_MAC"), mac)) {
        response_error(res, 403, "the STA-MAC header must be a MAC address");
        return;
    }
    struct ota_facts device;
    enum store_status st = store_device_by_mac(app->store, mac, &device);
    if (st == STORE_NOT_FOUND) {
        response_error(res, 404, "Device NOT Registered");
        return;
    }
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    struct device_caller caller;
    bool go_on = device_basic_check(app, req, device.deviceid, &device.trust, res, &caller);
    explicit_bzero(&device.trust, sizeof device.trust); /* the key: caller holds its copy */
    if (!go_on)
        return;
    if (strcmp(caller.trust.state, "rejected") == 0)
        response_error(res, 403, "Device rejected: an admin has refused this device");
    else
        answer(app, req, c, &device, res);
    device_call_finish(app, res, &caller);
}
