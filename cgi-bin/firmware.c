/* Firmware endpoints: the admin's upload, list and deletion of versions, and a device's download
 * of its assigned image, which nginx sends from the host's cache (firmware.h). */
#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "device_trust.h"
#include "firmware_image.h"
#include "json_out.h"
#include "log.h"
#include "validate.h"

static void write_firmware(struct json_out *out, const struct firmware *fw)
{
    json_out_open_object(out);
    json_out_member_string(out, "version", fw->version);
    json_out_member_int(out, "size", fw->size);
    json_out_member_string(out, "sha256", fw->sha256);
    json_out_member_string(out, "md5", fw->md5);
    json_out_member_isotime(out, "created", fw->created);
    json_out_close_object(out);
}

/* The answer to an upload: the version as stored (the same bytes again: the first upload's). */
static void send_firmware(const struct firmware *fw, void *user_data)
{
    struct json_out out;
    json_out_start(&out, user_data, 201);
    write_firmware(&out, fw);
}

/* POST /api/firmware?version=V: the image as the body (application/octet-stream), at most
 * PROVD_FIRMWARE_MAX bytes; signed in the ESP8266 core's format when PROVD_FIRMWARE_PUBKEY is set. */
void handle_firmware_upload(struct app *app, const struct request *req, struct response *res)
{
    char version[FIRMWARE_VERSION_MAX + 2];
    int has = query_param(req->query, "version", version, sizeof version);
    if (has <= 0 || !valid_firmware_version(version, strlen(version))) {
        response_error(res, 400, "?version= " FIRMWARE_VERSION_RULE " (a + written %%2B)");
        return;
    }
    const char *type = request_param(req, "CONTENT_TYPE");
    if (type && *type && strcmp(type, "application/octet-stream") != 0) {
        response_error(res, 415, "Content-Type must be application/octet-stream (the image's bytes)");
        return;
    }
    if (req->body_len == 0) {
        response_error(res, 400, "the body must be the image; it is empty");
        return;
    }
    const uint8_t *image = (const uint8_t *)req->body;
    if (app->config.firmware_pubkey) {
        enum firmware_signature v = firmware_signature_check(app->config.firmware_pubkey, image, req->body_len);
        if (v != FIRMWARE_SIGNATURE_OK) {
            response_error(res, 400, "%s", firmware_signature_strerror(v));
            return;
        }
    }
    struct firmware_digests d;
    if (!firmware_digest(image, req->body_len, &d)) {
        response_error(res, 500, "internal error: the image's digests could not be computed");
        return;
    }
    struct firmware fw = {version, d.sha256, d.md5, (int64_t)req->body_len, app->now()};
    enum store_status st = store_firmware_add(app->store, &fw, image, send_firmware, res);
    if (st == STORE_CREATED) {
        char after[160];
        snprintf(after, sizeof after, "{\"size\":%lld,\"sha256\":\"%s\",\"md5\":\"%s\"}", (long long)fw.size,
                 fw.sha256, fw.md5);
        st = audit_record(app->store, &app->actor, "firmware.upload", version, NULL, after);
        st = st == STORE_OK ? STORE_CREATED : st;
    }
    if (st == STORE_CREATED)
        send_firmware(&fw, res);
    else if (st == STORE_EXISTS)
        response_error(res, 409, "version %s exists with other bytes: upload them under a new version", version);
    else if (st != STORE_OK)
        respond_store_error(app, res, st);
}

static void list_firmware(const struct firmware *fw, void *user_data)
{
    write_firmware(user_data, fw);
}

/* GET /api/firmware: every version, by version. */
void handle_firmware_list(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    struct json_out out;
    json_out_start(&out, res, 200);
    json_out_open_array(&out);
    enum store_status st = store_firmware_list(app->store, list_firmware, &out);
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    json_out_close_array(&out);
}

/* DELETE /api/firmware/{version}: refused while a device has it assigned. */
void handle_firmware_delete(struct app *app, const struct request *req, struct response *res)
{
    enum store_status st = store_firmware_delete(app->store, req->version);
    if (st == STORE_OK)
        st = audit_record(app->store, &app->actor, "firmware.delete", req->version, NULL, NULL);
    switch (st) {
    case STORE_OK: response_empty(res, 204); break;
    case STORE_NOT_FOUND: response_error(res, 404, "no firmware version %s", req->version); break;
    case STORE_STALE:
        response_error(res, 409, "version %s is assigned to devices or an active rollout: assign them another (or none), "
                       "or cancel the rollout, first",
                       req->version);
        break;
    default: respond_store_error(app, res, st);
    }
}

bool firmware_in_progress(const char *status)
{
    return strcmp(status, FIRMWARE_STATUS_PENDING) == 0 || strcmp(status, FIRMWARE_STATUS_OFFERED) == 0 ||
           strcmp(status, FIRMWARE_STATUS_DOWNLOADING) == 0;
}

bool firmware_report_changes(const char *reported, const char *running, const char *status)
{
    return strcmp(reported, running) != 0 || firmware_in_progress(status);
}

/* Writes len bytes to fd; false on a failure. */
static bool write_all(int fd, const uint8_t *bytes, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, bytes, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        bytes += n;
        len -= (size_t)n;
    }
    return true;
}

/* The cache's file of image, made if it is missing: the bytes read from the database and checked
 * against their SHA-256, written to a temporary file, synced and renamed, so that nginx never sees
 * a partial one. Two workers or hosts may make it at once: each renames a whole file. */
static bool cache_image(struct app *app, const struct assigned_image *image, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size == image->size)
        return true;
    /* nginx's workers may run as another user of provd's group (provd-nginx.service): the
     * directory and files are the group's to read, whatever the umask. */
    if ((mkdir(app->config.firmware_cache, 0750) != 0 || chmod(app->config.firmware_cache, 0750) != 0) &&
        errno != EEXIST) {
        log_event("error", "firmware_cache", app->request_id, NULL, "mkdir %s: %s", app->config.firmware_cache,
                  strerror(errno));
        return false;
    }
    void *bytes = NULL;
    size_t len = 0;
    struct firmware_digests d;
    enum store_status s = store_firmware_image(app->store, image->sha256, &bytes, &len);
    bool ok = s == STORE_OK && firmware_digest(bytes, len, &d) && strcmp(d.sha256, image->sha256) == 0;
    if (!ok)
        log_event("error", "firmware_cache", app->request_id, NULL, "image %s: %s", image->sha256,
                  s == STORE_OK ? "its bytes do not match their SHA-256" : store_errmsg(app->store));
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%d.tmp", app->config.firmware_cache, image->sha256, (long)getpid(),
             app->thread);
    int fd = ok ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640) : -1;
    ok = fd >= 0 && fchmod(fd, 0640) == 0 && write_all(fd, bytes, len) && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok && fd >= 0) {
        log_event("error", "firmware_cache", app->request_id, NULL, "write %s: %s", tmp, strerror(errno));
        unlink(tmp);
    }
    free(bytes);
    return ok;
}

void firmware_send(struct app *app, struct response *res, const struct assigned_image *image)
{
    char path[PATH_MAX];
    if (!app->config.firmware_cache) {
        response_error(res, 503, "firmware downloads need PROVD_FIRMWARE_CACHE (README: Configuration)");
        return;
    }
    snprintf(path, sizeof path, "%s/%s", app->config.firmware_cache, image->sha256);
    if (!cache_image(app, image, path)) {
        response_error(res, 500, "internal error: the image could not be cached (see the server log)");
        return;
    }
    response_header(res, "X-Accel-Redirect", FIRMWARE_CACHE_LOCATION "%s", image->sha256);
    response_header(res, "x-MD5", "%s", image->md5);
    response_header(res, "x-SHA256", "%s", image->sha256);
    response_empty(res, 200);
}

/* The last byte a Range header asks for: INT64_MAX for the image's end (no Range, one nginx
 * ignores, a suffix or open range). Written by hand: RFC 9110 14.1.2's byte ranges, only the ends
 * matter here. */
static int64_t range_last(const char *range)
{
    if (!range || strncmp(range, "bytes=", 6) != 0)
        return INT64_MAX;
    int64_t last = -1;
    for (const char *p = range + 6; *p;) {
        p += strspn(p, " ");
        const char *dash = strchr(p, '-'), *comma = strchr(p, ',');
        if (!dash || (comma && dash > comma) || dash == p)
            return INT64_MAX; /* a suffix range (-N) ends at the end; a malformed one is ignored */
        char *end;
        const char *to_text = dash + 1;
        if (*to_text == '\0' || *to_text == ',' || *to_text == ' ')
            return INT64_MAX;
        long long to = strtoll(to_text, &end, 10);
        if (end == to_text)
            return INT64_MAX;
        last = to > last ? to : last;
        p = comma ? comma + 1 : end + strlen(end);
    }
    return last;
}

/* The download's facts for a signed caller (STORE_CALLER_TO_PROVE): its proof checked against
 * the trust they give, then the event written when it changes something. false: res holds the
 * 401. */
static bool prove_download(struct app *app, const struct request *req, struct response *res,
                           struct device_caller *caller, enum store_status *st, struct image_facts *facts)
{
    bool proved = device_read_prove(app, req, res, caller, *st == STORE_OK ? &facts->trust : NULL);
    explicit_bzero(facts->trust.key, sizeof facts->trust.key);
    if (proved && *st == STORE_OK)
        *st = store_image_fetched(app->store, req->deviceid, facts);
    return proved;
}

/* GET /api/devices/{id}/firmware?version=V: the device's assigned image, authenticated as its
 * polls; with Range for a resumed download. One read of the device (store_device_image()), and a
 * write only when its update status moves. */
void handle_device_firmware_image(struct app *app, const struct request *req, struct response *res)
{
    char version[FIRMWARE_VERSION_MAX + 2];
    int has = query_param(req->query, "version", version, sizeof version);
    if (has <= 0 || !valid_firmware_version(version, strlen(version))) {
        response_error(res, 400, "?version= must be the firmware version the poll named");
        return;
    }
    struct device_caller caller;
    if (!device_read_check(app, req, true, res, &caller))
        return;
    struct image_facts facts = {0};
    enum store_caller who = device_store_caller(req, &caller);
    enum store_status st = store_device_image(app->store, req->deviceid, who, version,
                                              range_last(request_param(req, "HTTP_RANGE")), &facts);
    if (who == STORE_CALLER_TO_PROVE && (st == STORE_OK || st == STORE_NOT_FOUND) &&
        !prove_download(app, req, res, &caller, &st, &facts)) {
        device_call_finish(app, res, &caller); /* res holds the 401 */
        return;
    }
    if (st == STORE_OK && strcmp(facts.trust.state, "rejected") == 0)
        response_error(res, 403, "Device rejected: an admin has refused this device");
    else if (st == STORE_OK && strcmp(facts.assigned.version, version) != 0)
        response_error(res, 404, "firmware %s is not assigned to this device", version);
    else if (st == STORE_OK)
        firmware_send(app, res, &facts.assigned);
    else if (st == STORE_NOT_FOUND)
        response_error(res, 404, "Device NOT Registered");
    else if (st == STORE_UNPROVED)
        device_call_refuse(app, res);
    else
        respond_store_error(app, res, st);
    device_call_finish(app, res, &caller);
}
