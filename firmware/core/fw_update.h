/* fw_update.h: firmware updates on the device: the offer in a poll answer validated, the image
 * streamed into the platform with resume (a progress record survives reboots), verified, booted. */
#ifndef FW_UPDATE_H
#define FW_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_platform.h"

/* Longest image path (the URL relative to the server). */
#define FW_IMAGE_PATH_MAX 160
/* Largest image an offer may name (a port refuses less in image_begin()). */
#define FW_IMAGE_SIZE_MAX (16u * 1024u * 1024u)
/* The progress record is written each time this many more bytes are stored, and when a
 * transfer breaks off: a power cut loses at most this much of the download. */
#define FW_UPDATE_SAVE_EVERY 65536u
/* Verified images booted (or failed verifications) of one image before the device gives it up
 * until another is offered: a device that keeps coming back with the old version stops trying. */
#define FW_UPDATE_MAX_TRIES 3u
#define FW_UPDATE_RECORD_LEN 36

struct fw_update {
    bool offered;  /* the last poll answer offered img */
    bool begun;    /* image_begin() accepted img in this boot */
    bool in_body;  /* a transfer has started writing (its start was checked) */
    struct fw_image img;
    char path[FW_IMAGE_PATH_MAX + 1];
    uint32_t offset; /* bytes of img stored */
    uint32_t saved;  /* the offset the progress record holds */
    uint32_t pos;    /* where in the image the body being received is */
    uint8_t tries;   /* of img, from the record */
    bool failed;     /* the current transfer was refused (fw_http_body returned -1) */
};

/* Whether text (n bytes) is a version: 1-32 of [A-Za-z0-9._+-]. */
bool fw_version_valid(const char *text, size_t n);

/* The poll answer's "firmware" member, {"version","url","size","sha256","md5"}, into img and
 * path (the URL relative to the server: a path, or an absolute URL on `server`, the device's base
 * URL, NULL: only paths). Every field is required and bounded. Returns 0, or -1 when malformed. */
int fw_update_parse_offer(const char *json, size_t len, const char *server, struct fw_image *img, char *path,
                          size_t path_cap);

/* At boot: the progress record (an image, how much of it is stored, its tries), if any. */
void fw_update_boot(struct fw_update *u, const struct fw_platform *plat);

/* A poll answer offered img at path (NULL: it offered none). Keeps what is stored of the same
 * image; another image starts over. */
void fw_update_offer(struct fw_update *u, const struct fw_image *img, const char *path);

/* Whether the device should download: an image is offered, not the running one, and not given up. */
bool fw_update_wanted(const struct fw_update *u, const char *running);

/* Before each transfer: image_begin() once per boot, the offset to ask for. Returns 0 or -1. */
int fw_update_prepare(struct fw_update *u, const struct fw_platform *plat);

/* A piece of the image answer (status, Content-Range start or -1); see fw_http_body(). */
int fw_update_body(struct fw_update *u, const struct fw_platform *plat, int status, int64_t range_start,
                   const uint8_t *data, size_t len);

/* The transfer ended (its pieces are all in): stores the progress. Returns 1 when the whole image
 * is stored, 0 otherwise. */
int fw_update_transfer_end(struct fw_update *u, const struct fw_platform *plat);

/* The whole image is stored: verifies it, counts a try and boots it. Returns 0 when the platform
 * simulated the reboot, -1 when the image is refused (SHA-256) or could not be booted; the
 * download then starts over (or is given up after FW_UPDATE_MAX_TRIES). */
int fw_update_install(struct fw_update *u, const struct fw_platform *plat);

/* Forgets what is stored (e.g. the server answered 416 to the range). */
void fw_update_restart(struct fw_update *u, const struct fw_platform *plat);

#endif
