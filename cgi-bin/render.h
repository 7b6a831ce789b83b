/* How a device looks in API answers: stored fields, liveness computed from lastseen and its
 * poll interval, whether it signs and which envelope it uses, times as ISO-8601. The telemetry
 * key never appears. */
#ifndef PROVD_RENDER_H
#define PROVD_RENDER_H

#include "app.h"
#include "json_out.h"

enum liveness { LIVENESS_ONLINE, LIVENESS_OVERDUE, LIVENESS_OFFLINE };

int64_t device_poll_interval(const struct device *d, const struct config *config);
const char *liveness_name(enum liveness live);
enum liveness device_liveness(const struct device *d, const struct config *config, int64_t now);
/* The device as one JSON object, written at out's position. */
void device_write_json(struct json_out *out, const struct device *d, const struct config *config,
                       int64_t now);
/* What a device is told of itself when it registers again: no more than the original firmware
 * reads (name, datec) and what it polls with; nothing only an admin may see. */
void device_write_registration(struct json_out *out, const struct device *d, const struct config *config,
                               const char *message);

#endif
