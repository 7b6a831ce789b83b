/* fw_update.c: the update offer's validation, the progress record ("FWUP", the image's size and
 * first 16 bytes of its SHA-256, the bytes stored, the tries, and a check word so a torn or blank
 * record counts as none) and the bookkeeping of a streamed, resumable image transfer. */
#include "fw_update.h"

#include <string.h>

#include "fw_json.h"
#include "fw_le.h"

#define RECORD_ID_LEN 16

static const uint8_t magic[4] = {'F', 'W', 'U', 'P'};

/* FNV-1a over the record's fields: tells a record from a torn write or an erased sector. */
static uint32_t check_word(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

bool fw_version_valid(const char *text, size_t n)
{
    size_t i;

    if (n == 0 || n > FW_VERSION_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = text[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '+' || c == '-'))
            return false;
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string member of obj: its text between the quotes (no escapes accepted: none of the offer's
 * fields needs one). */
static bool get_string(const struct fw_json_value *obj, const char *key, const char **text, size_t *n)
{
    struct fw_json_value v;
    size_t i;

    if (fw_json_get(obj->text, obj->len, key, &v) != FW_JSON_OK || v.type != FW_JSON_STRING)
        return false;
    *text = v.text + 1;
    *n = v.len - 2;
    for (i = 0; i < *n; i++)
        if ((*text)[i] == '\\')
            return false;
    return true;
}

/* hex (2 * n digits) into out (n bytes; NULL: only checked). */
static bool get_hex(const struct fw_json_value *obj, const char *key, uint8_t *out, size_t n)
{
    const char *text;
    size_t len, i;

    if (!get_string(obj, key, &text, &len) || len != 2 * n)
        return false;
    for (i = 0; i < n; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        if (out)
            out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* A path the device may GET: "/..." but not "//..." (another host), printable ASCII without
 * spaces, quotes, backslashes or a fragment, and no "." or ".." segment. */
static bool path_ok(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || p[0] != '/' || (n > 1 && p[1] == '/'))
        return false;
    for (i = 0; i < n; i++) {
        char c = p[i];

        if (c <= ' ' || c > '~' || c == '"' || c == '\\' || c == '#' || c == '<' || c == '>')
            return false;
        if (c == '/' && i + 1 < n && p[i + 1] == '.') {
            size_t end = i + 2 + (i + 2 < n && p[i + 2] == '.');

            if (end == n || p[end] == '/' || p[end] == '?')
                return false;
        }
    }
    return true;
}

/* The URL's path: the URL itself when relative, or what follows `server` (compared without
 * case, as scheme and host are) when it is an absolute URL on the device's own server. */
static bool url_path(const char *url, size_t n, const char *server, const char **path, size_t *path_len)
{
    size_t s = server ? strlen(server) : 0, i;

    while (s > 0 && server[s - 1] == '/')
        s--;
    if (n > 0 && url[0] == '/') {
        *path = url;
        *path_len = n;
        return true;
    }
    if (s == 0 || n <= s || url[s] != '/')
        return false;
    for (i = 0; i < s; i++) {
        char a = url[i], b = server[i];

        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    *path = url + s;
    *path_len = n - s;
    return true;
}

int fw_update_parse_offer(const char *json, size_t len, const char *server, struct fw_image *img, char *path,
                          size_t path_cap)
{
    struct fw_json_value obj, v;
    const char *text, *p;
    size_t n, plen;
    uint32_t size;

    if (fw_json_parse(json, len, &obj) != FW_JSON_OK || obj.type != FW_JSON_OBJECT)
        return -1;
    if (!get_string(&obj, "version", &text, &n) || !fw_version_valid(text, n))
        return -1;
    memcpy(img->version, text, n);
    img->version[n] = '\0';
    if (fw_json_get(obj.text, obj.len, "size", &v) != FW_JSON_OK || fw_json_uint32(&v, &size) != FW_JSON_OK ||
        size == 0 || size > FW_IMAGE_SIZE_MAX)
        return -1;
    img->size = size;
    if (!get_hex(&obj, "sha256", img->sha256, sizeof img->sha256) || !get_hex(&obj, "md5", NULL, 16))
        return -1;
    if (!get_string(&obj, "url", &text, &n) || !url_path(text, n, server, &p, &plen) || plen >= path_cap ||
        !path_ok(p, plen))
        return -1;
    memcpy(path, p, plen);
    path[plen] = '\0';
    return 0;
}

static int save(struct fw_update *u, const struct fw_platform *plat)
{
    uint8_t rec[FW_UPDATE_RECORD_LEN];

    memcpy(rec, magic, sizeof magic);
    memcpy(rec + 4, u->img.sha256, RECORD_ID_LEN);
    fw_put_le32(rec + 20, u->img.size);
    fw_put_le32(rec + 24, u->offset);
    fw_put_le32(rec + 28, u->tries);
    fw_put_le32(rec + 32, check_word(rec, 32));
    if (plat->update->record_write(plat->user_data, rec, sizeof rec) != 0)
        return -1;
    u->saved = u->offset;
    return 0;
}

void fw_update_boot(struct fw_update *u, const struct fw_platform *plat)
{
    uint8_t rec[FW_UPDATE_RECORD_LEN];

    memset(u, 0, sizeof *u);
    if (plat->update->record_read(plat->user_data, rec, sizeof rec) != FW_UPDATE_RECORD_LEN ||
        memcmp(rec, magic, sizeof magic) != 0 || fw_get_le32(rec + 32) != check_word(rec, 32))
        return;
    memcpy(u->img.sha256, rec + 4, RECORD_ID_LEN);
    u->img.size = fw_get_le32(rec + 20);
    u->offset = fw_get_le32(rec + 24);
    u->tries = (uint8_t)(fw_get_le32(rec + 28) > 255 ? 255 : fw_get_le32(rec + 28));
    if (u->offset > u->img.size)
        u->offset = 0;
    u->saved = u->offset;
}

void fw_update_offer(struct fw_update *u, const struct fw_image *img, const char *path)
{
    u->offered = img != NULL;
    if (!img)
        return;
    if (img->size != u->img.size || memcmp(img->sha256, u->img.sha256, RECORD_ID_LEN) != 0) {
        /* Another image: what is stored is of no use (the record is rewritten by prepare). */
        u->begun = false;
        u->offset = 0;
        u->saved = UINT32_MAX;
        u->tries = 0;
    }
    u->img = *img;
    memcpy(u->path, path, strlen(path) + 1);
}

bool fw_update_wanted(const struct fw_update *u, const char *running)
{
    return u->offered && strcmp(u->img.version, running) != 0 && u->tries < FW_UPDATE_MAX_TRIES;
}

int fw_update_prepare(struct fw_update *u, const struct fw_platform *plat)
{
    uint32_t offset = u->offset;

    u->in_body = false;
    u->failed = false;
    if (!u->begun) {
        if (plat->update->image_begin(plat->user_data, &u->img, &offset) != 0)
            return -1;
        u->offset = offset < u->offset ? offset : u->offset;
        u->begun = true;
    }
    return u->saved == u->offset ? 0 : save(u, plat);
}

/* Refuses the rest of the transfer. */
static int refuse(struct fw_update *u)
{
    u->failed = true;
    return -1;
}

int fw_update_body(struct fw_update *u, const struct fw_platform *plat, int status, int64_t range_start,
                   const uint8_t *data, size_t len)
{
    size_t skip;

    if (u->failed)
        return -1;
    if (status != 200 && status != 206)
        return 0; /* an error's body: the status says it all */
    if (!u->in_body) {
        /* A 206 must start within what is stored; a 200 (no range support) starts at 0 and the
         * part already stored is skipped. */
        if (status == 206 && (range_start < 0 || range_start > (int64_t)u->offset))
            return refuse(u);
        u->pos = status == 206 ? (uint32_t)range_start : 0;
        u->in_body = true;
    }
    skip = u->pos < u->offset ? u->offset - u->pos : 0;
    if (skip > len)
        skip = len;
    u->pos += (uint32_t)skip;
    data += skip;
    len -= skip;
    if (len == 0)
        return 0;
    if (len > u->img.size - u->offset ||
        plat->update->image_write(plat->user_data, u->offset, data, len) != 0)
        return refuse(u);
    u->offset += (uint32_t)len;
    u->pos += (uint32_t)len;
    if (u->offset - u->saved >= FW_UPDATE_SAVE_EVERY)
        save(u, plat); /* a failure only means more is downloaded again after a power cut */
    return 0;
}

int fw_update_transfer_end(struct fw_update *u, const struct fw_platform *plat)
{
    u->in_body = false;
    u->failed = false;
    if (u->saved != u->offset)
        save(u, plat);
    return u->offset == u->img.size;
}

int fw_update_install(struct fw_update *u, const struct fw_platform *plat)
{
    int verified = plat->update->image_finish(plat->user_data, &u->img) == 0;

    if (u->tries < 255)
        u->tries++;
    if (!verified) {
        u->offset = 0;
        u->begun = false;
        save(u, plat);
        return -1;
    }
    /* The try is counted before the boot: a device that never comes back from it stops. */
    if (save(u, plat) != 0)
        return -1;
    return plat->update->image_boot(plat->user_data, &u->img) == 0 ? 0 : -1;
}

void fw_update_restart(struct fw_update *u, const struct fw_platform *plat)
{
    u->offset = 0;
    u->begun = false;
    save(u, plat);
}
