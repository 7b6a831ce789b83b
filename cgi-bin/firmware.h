/* Firmware images handed to nginx, which sends the bytes itself (ARCHITECTURE.md "Firmware
 * updates"): a per-host cache of files named by SHA-256, filled from the database. */
#ifndef PROVD_FIRMWARE_H
#define PROVD_FIRMWARE_H

#include "app.h"

/* nginx.conf's internal location that serves PROVD_FIRMWARE_CACHE. */
#define FIRMWARE_CACHE_LOCATION "/_firmware/"

/* Whether a status means the device should get its assigned image: pending, offered or
 * downloading (a failed update is not offered again until an admin assigns it again). */
bool firmware_in_progress(const char *status);
/* Whether a device's report that it runs version reported can change its row (given the version
 * it last reported, running, and its update status): another version than the last, or any
 * report while an update is under way, which store_device_firmware() then judges. One that
 * cannot is not written: devices repeat it in every poll and update check. */
bool firmware_report_changes(const char *reported, const char *running, const char *status);

/* Answers with the assigned image (its sha256, md5 and size): its file made in the cache if missing (from
 * the database, written to a temporary file and renamed), then X-Accel-Redirect to it with x-MD5
 * and x-SHA256, which nginx re-adds to its answer. 503 without PROVD_FIRMWARE_CACHE; 500 when the
 * file cannot be made. */
void firmware_send(struct app *app, struct response *res, const struct assigned_image *image);

#endif
